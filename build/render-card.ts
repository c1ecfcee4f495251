/**
 * A terminal rendering of a Feishu card for `replay` without `--json`: header colour, text with
 * lark_md entities decoded and emphasis dropped, fields side by side, notes and buttons.
 */
import type { Delivery } from "../dispatcher/pipeline/pipeline.ts";

const COLOURS: Record<string, number> = {
  red: 31, carmine: 31, orange: 33, yellow: 33, green: 32, turquoise: 36, wathet: 36, blue: 34,
  indigo: 34, violet: 35, purple: 35, grey: 90, default: 37,
};

type Json = Record<string, unknown>;

function textOf(t: unknown): string {
  if (typeof t !== "object" || t === null) return "";
  const { tag, content } = t as Json;
  if (typeof content !== "string") return "";
  if (tag !== "lark_md") return content;
  return content
    .replace(/\*\*(.*?)\*\*/g, "$1")
    .replace(/<at id=([^>]*)><\/at>/g, "@$1")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
}

export function renderDelivery(d: Delivery, colour: boolean): string {
  const card = d.body.card as unknown as Json;
  const header = (card.header ?? {}) as Json;
  const paint = (code: number, s: string) => (colour ? `\u001b[${code}m${s}\u001b[0m` : s);
  const title = textOf(header.title) || "(no title)";
  const lines = [
    paint(COLOURS[String(header.template ?? "default")] ?? 37, `■ ${title}`) +
      paint(90, `  ${d.at} → ${d.channel} · ${d.handler} · ${d.bytes} B${d.truncated ? " · truncated" : ""}`),
  ];
  for (const el of (Array.isArray(card.elements) ? card.elements : []) as Json[]) {
    if (el.tag === "hr") lines.push(paint(90, "────────"));
    else if (el.tag === "note") lines.push(paint(90, ((el.elements ?? []) as unknown[]).map(textOf).join(" ")));
    else if (el.tag === "action") lines.push(((el.actions ?? []) as Json[]).map((b) => `[${textOf(b.text)}](${String(b.url)})`).join("  "));
    else {
      if (el.text) lines.push(textOf(el.text));
      const fields = (el.fields ?? []) as Json[];
      if (fields.length) lines.push(fields.map((f) => textOf(f.text)).join("   "));
    }
  }
  return lines.map((l) => `  ${l.replace(/\n/g, "\n  ")}`).join("\n").replace(/^ {2}/, "") + "\n";
}
