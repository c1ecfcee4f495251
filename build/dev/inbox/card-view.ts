/**
 * @module A Feishu interactive card (JSON 1.0, as handlers build it) as a small view model for
 * the card inbox: header colour and title, then text blocks, two-column fields, dividers,
 * notes and buttons. Card content is untrusted: this produces data only, and the inbox turns it
 * into DOM text nodes, never HTML. Runs in the browser too, so it uses no Node API.
 */
import { parseLarkMd, safeHref, type MdNode } from "./lark-md.ts";

export interface HeaderView {
  title: MdNode[];
  template: string;
  background: string;
  foreground: string;
}

export interface FieldView {
  short: boolean;
  content: MdNode[];
}

export interface ButtonView {
  label: MdNode[];
  /** Only http(s); null when the URL would not open in Feishu. */
  href: string | null;
  type: "default" | "primary" | "danger";
}

export type BlockView =
  | { t: "text"; content: MdNode[] }
  | { t: "fields"; fields: FieldView[] }
  | { t: "hr" }
  | { t: "note"; parts: MdNode[][] }
  | { t: "actions"; buttons: ButtonView[] }
  | { t: "unsupported"; tag: string };

export interface CardView {
  header?: HeaderView;
  blocks: BlockView[];
}

/** Header template colours, close to Feishu's (solid bar, white title; light ones with dark title). */
export const HEADER_COLOURS: Record<string, { background: string; foreground: string }> = {
  blue: { background: "#3370ff", foreground: "#ffffff" },
  wathet: { background: "#7fb6ff", foreground: "#1f2329" },
  turquoise: { background: "#14b8a6", foreground: "#ffffff" },
  green: { background: "#34c724", foreground: "#ffffff" },
  yellow: { background: "#ffc60a", foreground: "#1f2329" },
  orange: { background: "#ff8800", foreground: "#ffffff" },
  red: { background: "#f54a45", foreground: "#ffffff" },
  carmine: { background: "#e0447f", foreground: "#ffffff" },
  violet: { background: "#a45eeb", foreground: "#ffffff" },
  purple: { background: "#7f3bf5", foreground: "#ffffff" },
  indigo: { background: "#4954e6", foreground: "#ffffff" },
  grey: { background: "#8f959e", foreground: "#ffffff" },
  default: { background: "#f2f3f5", foreground: "#1f2329" },
};

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A text object: plain_text is shown exactly as written; lark_md is parsed. */
export function textView(t: unknown): MdNode[] {
  if (typeof t === "string") return [{ t: "text", text: t }];
  if (!isObject(t) || typeof t.content !== "string") return [];
  if (t.tag === "lark_md" || t.tag === "markdown") return parseLarkMd(t.content);
  return t.content.split("\n").flatMap((line, i): MdNode[] => (i === 0 ? [{ t: "text", text: line }] : [{ t: "br" }, { t: "text", text: line }]));
}

function blockView(el: unknown): BlockView[] {
  if (!isObject(el)) return [{ t: "unsupported", tag: typeof el }];
  switch (el.tag) {
    case "hr":
      return [{ t: "hr" }];
    case "markdown":
      return [{ t: "text", content: typeof el.content === "string" ? parseLarkMd(el.content) : [] }];
    case "note":
      return [{ t: "note", parts: (Array.isArray(el.elements) ? el.elements : []).map(textView) }];
    case "action":
      return [
        {
          t: "actions",
          buttons: (Array.isArray(el.actions) ? el.actions : []).filter(isObject).map((b) => ({
            label: textView(b.text),
            href: typeof b.url === "string" ? safeHref(b.url) ?? null : null,
            type: b.type === "primary" || b.type === "danger" ? b.type : "default",
          })),
        },
      ];
    case "div": {
      const out: BlockView[] = [];
      if (el.text !== undefined) out.push({ t: "text", content: textView(el.text) });
      if (Array.isArray(el.fields)) {
        out.push({ t: "fields", fields: el.fields.filter(isObject).map((f) => ({ short: f.is_short === true, content: textView(f.text) })) });
      }
      return out;
    }
    default:
      return [{ t: "unsupported", tag: String(el.tag) }];
  }
}

/** The view of a card; anything unexpected becomes an "unsupported" block, never an error. */
export function cardView(card: unknown): CardView {
  const c = isObject(card) ? card : {};
  const view: CardView = { blocks: (Array.isArray(c.elements) ? c.elements : []).flatMap(blockView) };
  if (isObject(c.header)) {
    const template = typeof c.header.template === "string" && c.header.template in HEADER_COLOURS ? c.header.template : "default";
    const colours = HEADER_COLOURS[template] ?? { background: "#f2f3f5", foreground: "#1f2329" };
    view.header = { title: textView(c.header.title), template, ...colours };
  }
  return view;
}
