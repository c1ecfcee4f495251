/**
 * What the spool holds: pending alarms (with the facts digests need) and folds, the summaries
 * that replace the oldest alarms' detail when the spool is over its cap. A fold keeps every
 * alarm counted, by reason and namespace, with a bounded list of fingerprints: nothing is
 * dropped silently, and its size stays small however many alarms it absorbs.
 */
import type { FeishuBody } from "../sinks/sink.ts";
import { reasonKey, type AlarmFacts } from "./alarm-facts.ts";

export interface SpoolItem {
  id: number;
  type: "item";
  kind: "alarm" | "self-alarm";
  channel: string;
  /** Outbox clock when it was enqueued (ms). */
  enqueuedAt: number;
  /** When the alarm's event happened (the Delivery's `at`). */
  at: string;
  handler: string;
  eventUid: string;
  fingerprint: string;
  group?: string;
  /**
   * The Delivery's `id` (grouped notifications): the same card handed on again after a crash
   * carries the same id, and the spool drops the copy.
   */
  deliveryId?: string;
  /**
   * The Delivery's `kind` (grouped notifications): the grouper's card, with its object lists, is
   * sent as it is and never merged into one of the outbox's digest cards.
   */
  cardKind?: "first" | "update" | "repeat" | "digest";
  body: FeishuBody;
  facts: AlarmFacts;
}

export interface Fold {
  id: number;
  type: "fold";
  channel: string;
  /** Alarms folded in. */
  count: number;
  /** Event time of the oldest and newest folded alarm. */
  first: string;
  last: string;
  /** Outbox clock of the oldest folded alarm's enqueue. */
  enqueuedAt: number;
  /** "BackOff in iot" → count; at most MAX_KEYS keys, the rest under OTHER. */
  byKey: Record<string, number>;
  /** Distinct fingerprints, at most MAX_FINGERPRINTS; the rest are only counted. */
  fingerprints: string[];
  moreFingerprints: number;
}

export type SpoolEntry = SpoolItem | Fold;

export const MAX_KEYS = 24;
export const MAX_FINGERPRINTS = 60;
export const OTHER = "other reasons";

/** A card the grouper built (it has a `kind`): sent on its own, in order, never digested. */
export const isGroupedCard = (e: SpoolEntry): boolean => e.type === "item" && e.cardKind !== undefined;

/** Count of alarms an entry stands for. */
export const alarmsIn = (e: SpoolEntry): number => (e.type === "fold" ? e.count : 1);

/** A fold of `items` (oldest first), merged into `into` when given; `into` is not modified. */
export function foldItems(id: number, channel: string, items: readonly SpoolItem[], into?: Fold): Fold {
  const fold: Fold = into
    ? { ...into, id, byKey: { ...into.byKey }, fingerprints: [...into.fingerprints] }
    : { id, type: "fold", channel, count: 0, first: items[0]?.at ?? "", last: "", enqueuedAt: items[0]?.enqueuedAt ?? 0, byKey: {}, fingerprints: [], moreFingerprints: 0 };
  const seen = new Set(fold.fingerprints);
  for (const item of items) {
    fold.count++;
    if (fold.first === "" || item.at < fold.first) fold.first = item.at;
    if (item.at > fold.last) fold.last = item.at;
    fold.enqueuedAt = Math.min(fold.enqueuedAt || item.enqueuedAt, item.enqueuedAt);
    let key = reasonKey(item.facts);
    if (fold.byKey[key] === undefined && Object.keys(fold.byKey).length >= MAX_KEYS) key = OTHER;
    fold.byKey[key] = (fold.byKey[key] ?? 0) + 1;
    if (seen.has(item.fingerprint)) continue;
    seen.add(item.fingerprint);
    if (fold.fingerprints.length < MAX_FINGERPRINTS) fold.fingerprints.push(item.fingerprint);
    else fold.moreFingerprints++;
  }
  return fold;
}

/** "280 BackOff in iot, 32 FailedMount in default, 3 other reasons", largest first. */
export function summarizeKeys(byKey: Readonly<Record<string, number>>, maxShown = 6): string {
  const sorted = Object.entries(byKey).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, maxShown).map(([k, n]) => `${n} ${k}`);
  const rest = sorted.slice(maxShown).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) shown.push(`${rest} more`);
  return shown.join(", ");
}
