/**
 * Feishu cards as Markdown for the robots that take Markdown (DingTalk, WeCom) and for the
 * generic webhook's `markdown` field. Handlers build Feishu cards only; this is the one place
 * that turns them into other chat formats.
 *
 * Escaping: text that came from events is `plain_text` content, or entity-escaped `&#NN;` runs
 * inside lark_md (sdk/markdown.ts). That text is made inert for the target: `<` cannot open a
 * tag or a WeCom `<@userid>` mention, `@all` and `@<digits>` cannot mention anyone, and `](`
 * cannot form a link. A zero-width space (U+200B) breaks the syntax and stays invisible. The
 * author's own lark_md (bold, links) passes through; Feishu-only tags (`<at>`, `<font>`,
 * `<text_tag>`) are dropped because they mean nothing there.
 */

export type MarkdownFlavor = "dingtalk" | "wecom" | "plain";

export interface RenderedMarkdown {
  /** The card's header title as plain text (DingTalk shows it in the notification). */
  title: string;
  text: string;
}

const ZWSP = "\u200b";
const TRUNCATED = "\n\n…(truncated)";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function neutralizeInline(text: string): string {
  return text
    .replace(/</g, `<${ZWSP}`)
    .replace(/@(?=all\b|\d)/gi, `@${ZWSP}`)
    .replace(/\]\(/g, `]${ZWSP}(`);
}

/** Markdown line breaks need two trailing spaces in both robots. */
const hardBreaks = (text: string): string => text.replace(/ *\r?\n/g, "  \n");

/** Makes untrusted text inert in DingTalk/WeCom Markdown without changing how it reads. */
export function neutralizeMarkdown(text: string): string {
  return hardBreaks(neutralizeInline(text));
}

/**
 * lark_md → target Markdown: Feishu tags dropped, `&#NN;` entities decoded. Letters are not
 * escaped in lark_md, so event text is a mix of decoded and literal characters ("&#64;all"):
 * mentions and tags are neutralised over the whole result, links only where a bracket came
 * from an entity (the author's own `[text](url)` links stay).
 */
function fromLarkMd(content: string): string {
  let text = "";
  const decoded: boolean[] = [];
  const TOKEN = /&#(\d{1,7});|<\/?(?:at|font|text_tag|local_datetime|person|raw|link)\b[^>]*>/gi;
  let last = 0;
  const push = (chunk: string, fromEntity: boolean): void => {
    text += chunk;
    for (let i = 0; i < chunk.length; i++) decoded.push(fromEntity);
  };
  for (const m of content.matchAll(TOKEN)) {
    push(content.slice(last, m.index), false);
    last = m.index + m[0].length;
    const code = m[1] === undefined ? -1 : Number(m[1]);
    if (code >= 0 && code <= 0x10ffff) push(String.fromCodePoint(code), true); // tags are dropped
  }
  push(content.slice(last), false);
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    out += c;
    if (c === "<" || (c === "@" && /^(all\b|\d)/i.test(text.slice(i + 1, i + 5)))) out += ZWSP;
    else if (c === "]" && text[i + 1] === "(" && (decoded[i] || decoded[i + 1])) out += ZWSP;
  }
  return hardBreaks(out);
}

function textOf(node: unknown): string {
  if (!isObject(node) || typeof node.content !== "string") return "";
  return node.tag === "lark_md" || node.tag === "markdown" ? fromLarkMd(node.content) : neutralizeMarkdown(node.content);
}

function plainTitle(card: Json): string {
  const header = isObject(card.header) ? card.header : {};
  const title = isObject(header.title) ? header.title : {};
  const content = typeof title.content === "string" ? title.content : "";
  if (title.tag !== "lark_md") return content;
  return content.replace(/<[^>]*>/g, "").replace(/&#(\d{1,7});/g, (_m, d: string) => (Number(d) <= 0x10ffff ? String.fromCodePoint(Number(d)) : ""));
}

function elementLines(element: unknown): string[] {
  if (!isObject(element)) return [];
  switch (element.tag) {
    case "hr":
      return ["---"];
    case "div": {
      const lines: string[] = [];
      if (element.text !== undefined) lines.push(textOf(element.text));
      if (Array.isArray(element.fields)) {
        lines.push(element.fields.map((f) => (isObject(f) ? textOf(f.text) : "")).filter(Boolean).join("  \n"));
      }
      return lines.filter(Boolean);
    }
    case "markdown":
      return typeof element.content === "string" ? [fromLarkMd(element.content)] : [];
    case "note": {
      const parts = Array.isArray(element.elements) ? element.elements.map(textOf).filter(Boolean) : [];
      return parts.length ? [`> ${parts.join(" · ")}`] : [];
    }
    case "action": {
      const links = (Array.isArray(element.actions) ? element.actions : [])
        .filter((a): a is Json => isObject(a) && typeof a.url === "string" && /^https?:\/\/[^\s()<>]+$/.test(a.url))
        .map((a) => `[${textOf(a.text).replace(/[[\]]/g, "")}](${a.url as string})`);
      return links.length ? [links.join(" | ")] : [];
    }
    default:
      return [];
  }
}

/** The longest prefix of `text` within `maxBytes` UTF-8 bytes (marker included), cut at a line end when possible. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const room = maxBytes - Buffer.byteLength(TRUNCATED, "utf8");
  let cut = Buffer.from(text, "utf8").subarray(0, Math.max(0, room)).toString("utf8");
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  cut = cut.replace(/\uFFFD$/, "");
  const nl = cut.lastIndexOf("\n");
  if (nl > cut.length * 0.8) cut = cut.slice(0, nl);
  return cut + TRUNCATED;
}

/** Renders a Feishu card (JSON 1.0, or 2.0 `body.elements`) as Markdown for a chat robot. */
export function renderCardMarkdown(card: object, flavor: MarkdownFlavor): RenderedMarkdown {
  const c = card as Json;
  const title = plainTitle(c);
  const elements = Array.isArray(c.elements) ? c.elements : isObject(c.body) && Array.isArray(c.body.elements) ? c.body.elements : [];
  const blocks = elements.flatMap(elementLines);
  const heading = title === "" ? [] : [flavor === "wecom" ? `**${neutralizeMarkdown(title)}**` : `### ${neutralizeMarkdown(title)}`];
  return { title, text: [...heading, ...blocks].join("\n\n") };
}

/** The text of a message body for chat robots: a card rendered, or a Feishu text message's text. */
export function renderBodyMarkdown(body: { card?: object; content?: object }, flavor: MarkdownFlavor): RenderedMarkdown {
  if (body.card !== undefined) return renderCardMarkdown(body.card, flavor);
  const content = body.content as Json | undefined;
  const text = typeof content?.text === "string" ? content.text : "";
  return { title: text.split("\n")[0] ?? "", text: neutralizeMarkdown(text) };
}
