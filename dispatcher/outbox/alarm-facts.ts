/**
 * The few facts about an alarm the outbox needs once its card is no longer shown on its own:
 * digest lines and fold summaries ("280 BackOff in iot") need a title, reason, namespace,
 * object and message. They are kept in the spooled record, small and bounded.
 *
 * The pipeline's Delivery carries the card but not the event; until it carries these fields
 * itself (see DeliveryFacts), they are read back from the card: `Label: value` lines as the
 * default handler writes them (EventReason, EventMessage, Object, …), lark_md entities decoded.
 */
import type { Delivery } from "../pipeline/pipeline.ts";

export interface AlarmFacts {
  title: string;
  /** Event reason, or the card title when the card does not say. */
  reason: string;
  /** May be empty (cluster-scoped objects, cards that do not say). */
  namespace: string;
  /** `namespace/name` or `Kind/name`; may be empty. */
  object: string;
  message: string;
}

/** Optional fields a Delivery may carry; when present they win over what the card says. */
export interface DeliveryFacts {
  reason?: string;
  namespace?: string;
  object?: string;
  message?: string;
}

const LIMITS = { title: 120, reason: 80, namespace: 63, object: 160, message: 300 } as const;

const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Card text as plain text: entities decoded, tags and bold markers gone. */
function plain(node: Json): string {
  const content = typeof node.content === "string" ? node.content : "";
  if (node.tag !== "lark_md" && node.tag !== "markdown") return content;
  return content
    .replace(/<[^>]*>/g, "")
    .replace(/\*\*|__/g, "")
    .replace(/&#(\d{1,7});/g, (_m, d: string) => (Number(d) <= 0x10ffff ? String.fromCodePoint(Number(d)) : ""));
}

function collectTexts(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const child of node) collectTexts(child, out);
    return;
  }
  if (!isObject(node)) return;
  if (typeof node.content === "string") {
    out.push(plain(node));
    return;
  }
  for (const [key, value] of Object.entries(node)) if (key !== "header") collectTexts(value, out);
}

const LABELS: Record<string, keyof DeliveryFacts> = {
  eventreason: "reason",
  reason: "reason",
  eventmessage: "message",
  message: "message",
  object: "object",
  namespace: "namespace",
};

/** What the card says about the alarm, by `Label: value` lines. */
export function factsFromCard(card: unknown): { title: string; fields: DeliveryFacts; firstLine: string } {
  const header = isObject(card) && isObject(card.header) && isObject(card.header.title) ? plain(card.header.title) : "";
  const texts: string[] = [];
  collectTexts(isObject(card) ? card : {}, texts);
  const fields: DeliveryFacts = {};
  let firstLine = "";
  for (const line of texts.flatMap((t) => t.split("\n"))) {
    const m = /^\s*([A-Za-z][A-Za-z ]{0,30}):\s*(.+?)\s*$/.exec(line);
    const field = m === null ? undefined : LABELS[(m[1] ?? "").replace(/\s+/g, "").toLowerCase()];
    if (m !== null && field !== undefined) {
      fields[field] ??= m[2] ?? "";
    } else if (firstLine === "" && line.trim() !== "") firstLine = line.trim();
  }
  return { title: header, fields, firstLine };
}

export function alarmFacts(d: Pick<Delivery, "body" | "handler"> & DeliveryFacts): AlarmFacts {
  const fromCard = factsFromCard(d.body.card);
  const object = d.object ?? fromCard.fields.object ?? "";
  const slash = object.indexOf("/");
  const namespace = d.namespace ?? fromCard.fields.namespace ?? (slash > 0 ? object.slice(0, slash) : "");
  const title = fromCard.title || d.handler;
  return {
    title: clip(title, LIMITS.title),
    reason: clip(d.reason ?? fromCard.fields.reason ?? title, LIMITS.reason),
    namespace: clip(namespace, LIMITS.namespace),
    object: clip(object, LIMITS.object),
    message: clip((d.message ?? fromCard.fields.message ?? fromCard.firstLine).replace(/\s+/g, " ").trim(), LIMITS.message),
  };
}

/** "BackOff in iot", or just the reason when there is no namespace: the unit of fold summaries. */
export function reasonKey(f: Pick<AlarmFacts, "reason" | "namespace">): string {
  return f.namespace ? `${f.reason} in ${f.namespace}` : f.reason;
}
