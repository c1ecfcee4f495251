/**
 * Digest cards: several pending alarms of one channel as one card, so a backlog (after an
 * outage, or a storm beyond the rate limit) goes out as a few messages instead of a burst. Each
 * alarm is one plain_text line (event text is never Markdown) ending in its fingerprint, so a
 * duplicate from a lost answer is recognisable; repeats of one fingerprint share a line. Folds
 * come first, as a summary with their fingerprints. The card takes as many alarms as the sink
 * says fit (Feishu: the 20,000-byte body budget; WeCom: 4096 bytes of Markdown).
 */
import { card, div, hr, note } from "../../sdk/index.ts";
import type { FeishuBody } from "../sinks/sink.ts";
import { formatTime } from "../time-format.ts";
import { reasonKey } from "./alarm-facts.ts";
import { alarmsIn, summarizeKeys, type Fold, type SpoolEntry, type SpoolItem } from "./spool-entries.ts";

export interface DigestContext {
  channel: string;
  timezone: string;
  /** The outage the backlog comes from, in outbox clock ms; absent for a plain backlog. */
  outage?: { from: number; to: number };
  spoolCapBytes: number;
  fits(body: FeishuBody): boolean;
  /** Default 200 lines; a card stays readable, and Feishu allows 200 elements anyway. */
  maxEntries?: number;
}

export interface Digest {
  body: FeishuBody;
  /** The entries it carries (their ids are removed once it is delivered). */
  entries: SpoolEntry[];
  alarms: number;
  fingerprints: string[];
}

const MESSAGE_CHARS = 140;

const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

function hhmm(ms: number, timezone: string): string {
  return formatTime(new Date(ms).toISOString(), timezone, "time").slice(0, 5);
}

function clockOf(iso: string, timezone: string): string {
  return Number.isNaN(Date.parse(iso)) ? "--:--:--" : formatTime(iso, timezone, "time");
}

function foldLine(fold: Fold, ctx: DigestContext): string {
  const mib = (ctx.spoolCapBytes / 1024 / 1024).toFixed(ctx.spoolCapBytes % (1024 * 1024) === 0 ? 0 : 1);
  const range = `${clockOf(fold.first, ctx.timezone)}–${clockOf(fold.last, ctx.timezone)}`;
  const more = fold.moreFingerprints > 0 ? ` (+${fold.moreFingerprints} more)` : "";
  return (
    `⚠ ${fold.count} alarms folded to keep the spool under ${mib} MiB (${range}): ${summarizeKeys(fold.byKey)}.\n` +
    `Fingerprints: ${fold.fingerprints.join(" ")}${more}`
  );
}

/** Alarm lines, one per fingerprint in order of first appearance. */
function itemLines(items: readonly SpoolItem[], timezone: string): string[] {
  const groups = new Map<string, SpoolItem[]>();
  for (const item of items) {
    const list = groups.get(item.fingerprint) ?? [];
    list.push(item);
    groups.set(item.fingerprint, list);
  }
  return [...groups.values()].map((list) => {
    const first = list[0] as SpoolItem;
    const f = first.facts;
    const times = list.length > 1 ? `${clockOf(first.at, timezone)}…${clockOf((list.at(-1) as SpoolItem).at, timezone)}` : clockOf(first.at, timezone);
    const what = [f.reason, f.object].filter(Boolean).join(" · ");
    const count = list.length > 1 ? ` ×${list.length}` : "";
    const message = f.message && f.message !== f.reason ? ` — ${clip(f.message, MESSAGE_CHARS)}` : "";
    return `${times} ${what}${count}${message} [fp ${first.fingerprint}]`;
  });
}

function render(entries: readonly SpoolEntry[], remaining: number, ctx: DigestContext): FeishuBody {
  const folds = entries.filter((e): e is Fold => e.type === "fold");
  const items = entries.filter((e): e is SpoolItem => e.type === "item");
  const alarms = entries.reduce((n, e) => n + alarmsIn(e), 0);
  const byKey: Record<string, number> = {};
  for (const fold of folds) for (const [k, n] of Object.entries(fold.byKey)) byKey[k] = (byKey[k] ?? 0) + n;
  for (const item of items) byKey[reasonKey(item.facts)] = (byKey[reasonKey(item.facts)] ?? 0) + 1;

  const span = ctx.outage
    ? `while offline ${hhmm(ctx.outage.from, ctx.timezone)}–${hhmm(ctx.outage.to, ctx.timezone)}`
    : `${clockOf(folds[0]?.first ?? items[0]?.at ?? "", ctx.timezone).slice(0, 5)}–${clockOf(items.at(-1)?.at ?? folds.at(-1)?.last ?? "", ctx.timezone).slice(0, 5)}`;
  const elements = [div(`${alarms} alarm${alarms === 1 ? "" : "s"}: ${summarizeKeys(byKey)}`)];
  for (const fold of folds) elements.push(div(foldLine(fold, ctx)));
  const lines = itemLines(items, ctx.timezone);
  const tail = [
    `edge-alarm digest · channel ${ctx.channel}`,
    remaining > 0 ? `${remaining} more alarm${remaining === 1 ? "" : "s"} follow` : "",
    "[fp …] is the alarm fingerprint: the same fingerprint and time twice is a resend, not a new alarm",
    `times ${ctx.timezone}`,
  ].filter(Boolean);
  return {
    msg_type: "interactive",
    card: card({
      title: `edge-alarm: ${alarms} alarm${alarms === 1 ? "" : "s"} ${span}`,
      template: "orange",
      elements: [...elements, ...(lines.length ? [hr(), div(lines.join("\n"))] : []), note(tail.join(" · "))],
    }),
  };
}

function digestOf(queue: readonly SpoolEntry[], count: number, ctx: DigestContext): Digest {
  const entries = queue.slice(0, count);
  const remaining = queue.slice(count).reduce((n, e) => n + alarmsIn(e), 0);
  const fingerprints = [...new Set(entries.flatMap((e) => (e.type === "fold" ? e.fingerprints : [e.fingerprint])))];
  return { body: render(entries, remaining, ctx), entries, alarms: entries.reduce((n, e) => n + alarmsIn(e), 0), fingerprints };
}

/** A digest of the oldest entries of `queue` (non-empty): as many as fit, at least one. */
export function buildDigest(queue: readonly SpoolEntry[], ctx: DigestContext): Digest {
  const most = Math.min(queue.length, ctx.maxEntries ?? 200);
  const whole = digestOf(queue, most, ctx);
  if (most <= 1 || ctx.fits(whole.body)) return whole;
  // More entries only ever make the card bigger: binary search for the largest count that fits.
  let lo = 1;
  let hi = most - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.fits(digestOf(queue, mid, ctx).body)) lo = mid;
    else hi = mid - 1;
  }
  return digestOf(queue, lo, ctx);
}
