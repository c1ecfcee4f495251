/**
 * Feishu interactive card (JSON 1.0) types and builders. Builders take either a plain string,
 * which becomes `plain_text` (Feishu renders no markup in it, so it is the safe home for event
 * data), or a `LarkMd` made by `md`, which is escaped by construction.
 */
import { safeUrl, type LarkMd } from "./markdown.ts";

export interface PlainText {
  tag: "plain_text";
  content: string;
  lines?: number;
}
export type Text = PlainText | LarkMd;

export type HeaderTemplate =
  | "blue" | "wathet" | "turquoise" | "green" | "yellow" | "orange" | "red"
  | "carmine" | "violet" | "purple" | "indigo" | "grey" | "default";

export interface Field {
  is_short: boolean;
  text: Text;
}
export interface DivElement {
  tag: "div";
  text?: Text;
  fields?: Field[];
}
export interface HrElement {
  tag: "hr";
}
export interface NoteElement {
  tag: "note";
  elements: Text[];
}
export interface Button {
  tag: "button";
  text: Text;
  url: string;
  type: "default" | "primary" | "danger";
}
export interface ActionElement {
  tag: "action";
  actions: Button[];
}
export type CardElement = DivElement | HrElement | NoteElement | ActionElement;

export interface FeishuCard {
  config?: { enable_forward?: boolean; update_multi?: boolean; wide_screen_mode?: boolean };
  header?: { title: Text; template?: HeaderTemplate };
  elements: CardElement[];
}

function text(t: string | Text): Text {
  return typeof t === "string" ? { tag: "plain_text", content: t } : t;
}

/** A whole card. */
export function card(opts: { title: string | Text; template?: HeaderTemplate; elements: CardElement[]; forward?: boolean }): FeishuCard {
  return {
    config: { wide_screen_mode: true, enable_forward: opts.forward ?? true },
    header: { title: text(opts.title), template: opts.template ?? "default" },
    elements: opts.elements,
  };
}

/** A text block. */
export function div(t: string | Text): DivElement {
  return { tag: "div", text: text(t) };
}

/** Side-by-side fields; each entry is short (two per row) unless `long` is set. */
export function fields(entries: Array<string | Text | { text: string | Text; long?: boolean }>): DivElement {
  return {
    tag: "div",
    fields: entries.map((e) =>
      typeof e === "object" && "text" in e && !("tag" in e)
        ? { is_short: !e.long, text: text(e.text) }
        : { is_short: true, text: text(e as string | Text) },
    ),
  };
}

/** A divider. */
export function hr(): HrElement {
  return { tag: "hr" };
}

/** The small grey footer line. */
export function note(...parts: Array<string | Text>): NoteElement {
  return { tag: "note", elements: parts.map(text) };
}

/** A row of buttons that open URLs (custom bots cannot take callbacks). */
export function actions(...buttons: Button[]): ActionElement {
  return { tag: "action", actions: buttons };
}

/** A button that opens an http(s) URL. */
export function button(label: string, url: string, type: Button["type"] = "default"): Button {
  return { tag: "button", text: text(label), url: safeUrl(url), type };
}
