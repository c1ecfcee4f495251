/**
 * The exact Feishu webhook request body for a card, cut to the size budget. Feishu documents a
 * 20 KB body limit for custom bots (30 KB elsewhere, ~150 KiB observed); we keep every body at
 * or under 20,000 bytes including the `timestamp` and `sign` fields a signing sender adds.
 */
import type { FeishuCard } from "../../sdk/index.ts";

export const BODY_LIMIT_BYTES = 20_000;
/** Room for `,"timestamp":1700000000,"sign":"<44 base64 chars>"` added when signing. */
export const SIGNATURE_RESERVE_BYTES = 100;
const MARKER = " …(truncated)";

export interface FeishuBody {
  msg_type: "interactive";
  card: FeishuCard;
}

export interface BuiltBody {
  body: FeishuBody;
  json: string;
  bytes: number;
  truncated: boolean;
}

const byteLength = (s: string): number => Buffer.byteLength(s, "utf8");

/** Every string `content` in the card, with a setter: cards nest text in header, div, fields, note, buttons. */
function textSlots(node: unknown, out: Array<{ get: () => string; set: (v: string) => void }>): void {
  if (Array.isArray(node)) {
    for (const child of node) textSlots(child, out);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const obj = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (key === "content" && typeof value === "string") {
      out.push({ get: () => obj.content as string, set: (v) => (obj.content = v) });
    } else textSlots(value, out);
  }
}

/** Bytes a string takes inside the JSON body (quotes and escapes included). */
const jsonBytes = (s: string): number => byteLength(JSON.stringify(s));

/**
 * The longest prefix of `text` whose JSON form fits in `maxBytes`, plus the marker, never splitting
 * a surrogate pair or an `&#NN;` entity of escaped lark_md.
 */
function cut(text: string, maxBytes: number): string {
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(text.slice(0, mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  let end = lo;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  const amp = text.lastIndexOf("&", end - 1);
  if (amp !== -1 && amp >= end - 8 && text.indexOf(";", amp) >= end) end = amp;
  return text.slice(0, end) + MARKER;
}

export function buildFeishuBody(card: FeishuCard, limit = BODY_LIMIT_BYTES - SIGNATURE_RESERVE_BYTES): BuiltBody {
  let body: FeishuBody = { msg_type: "interactive", card };
  let json = JSON.stringify(body);
  if (byteLength(json) <= limit) return { body, json, bytes: byteLength(json), truncated: false };

  // Work on a copy: the handler's object may be reused by the caller.
  body = JSON.parse(json) as FeishuBody;
  const elements = Array.isArray(body.card.elements) ? body.card.elements : (body.card.elements = []);
  elements.push({ tag: "note", elements: [{ tag: "plain_text", content: "⚠ card truncated to fit Feishu's 20,000-byte limit" }] });
  for (let round = 0; round < 64; round++) {
    json = JSON.stringify(body);
    const over = byteLength(json) - limit;
    if (over <= 0) return { body, json, bytes: byteLength(json), truncated: true };
    const slots: Array<{ get: () => string; set: (v: string) => void }> = [];
    textSlots(body.card, slots);
    const largest = slots.sort((a, b) => b.get().length - a.get().length)[0];
    const text = largest?.get() ?? "";
    if (largest && text.length > 200) {
      largest.set(cut(text, Math.max(0, jsonBytes(text) - over - jsonBytes(MARKER))));
    } else if (elements.length > 1) {
      // Drop trailing elements (keeping the truncation note last) until the overshoot is freed.
      let freed = 0;
      while (elements.length > 1 && freed < over) freed += byteLength(JSON.stringify(elements.splice(-2, 1)[0])) + 1;
    } else break;
  }
  // A card that still does not fit (huge header or keys) is replaced by a minimal one saying so.
  body = {
    msg_type: "interactive",
    card: { elements: [{ tag: "div", text: { tag: "plain_text", content: "⚠ alarm card too large to send; see the dispatcher log" } }] },
  };
  json = JSON.stringify(body);
  return { body, json, bytes: byteLength(json), truncated: true };
}
