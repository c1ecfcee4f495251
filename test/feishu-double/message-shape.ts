/**
 * What the double checks inside a parsed body: the msg_type and payload shape (19002), the text a
 * keyword must appear in (19024), and @all mentions (refused where the group forbids them).
 * Doc §1.3, §3, §5, §6.2.
 */
import { ANSWERS, type Answer } from "./answers.ts";

type Json = Readonly<Record<string, unknown>>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isTextObject(v: unknown): boolean {
  return isObject(v) && typeof v.content === "string";
}

const MSG_TYPES = new Set(["text", "post", "image", "share_chat", "interactive"]);

// JSON 2.0 validates strictly: unknown top-level keys are an error there (doc §5.2).
const CARD_V2_KEYS = new Set(["schema", "config", "card_link", "header", "body"]);

/** The 19002 answer for a wrong shape, or null when the shape is acceptable. */
export function shapeError(body: Json): Answer | null {
  const msgType = body.msg_type;
  if (typeof msgType !== "string" || msgType === "") return ANSWERS.msgTypeMissing;
  if (!MSG_TYPES.has(msgType)) return ANSWERS.msgTypeInvalid;
  if (msgType === "interactive") return cardIsValid(body.card) ? null : ANSWERS.cardInvalid;
  return contentIsValid(msgType, body.content) ? null : ANSWERS.contentInvalid;
}

function contentIsValid(msgType: string, content: unknown): boolean {
  if (!isObject(content)) return false;
  switch (msgType) {
    case "text":
      return typeof content.text === "string";
    case "post":
      return postIsValid(content.post);
    case "image":
      return typeof content.image_key === "string";
    default:
      return typeof content.share_chat_id === "string";
  }
}

function postIsValid(post: unknown): boolean {
  if (!isObject(post)) return false;
  const locales = Object.values(post);
  if (locales.length === 0) return false;
  return locales.every(
    (locale) =>
      isObject(locale) &&
      Array.isArray(locale.content) &&
      locale.content.every((line) => Array.isArray(line) && line.every((node) => isObject(node) && typeof node.tag === "string")),
  );
}

function elementsAreValid(elements: unknown): boolean {
  return elements === undefined || (Array.isArray(elements) && elements.every((e) => isObject(e) && typeof e.tag === "string"));
}

function cardIsValid(card: unknown): boolean {
  // A card sent as a JSON string (or `content` instead of `card`) is refused (doc §1.3).
  if (!isObject(card)) return false;
  if (card.type === "template") return isObject(card.data) && typeof card.data.template_id === "string";
  if (card.header !== undefined && !(isObject(card.header) && isTextObject(card.header.title))) return false;
  if (card.schema === "2.0") {
    if (Object.keys(card).some((k) => !CARD_V2_KEYS.has(k))) return false;
    if (isObject(card.config) && ("wide_screen_mode" in card.config || card.config.update_multi === false)) return false;
    return card.body === undefined || (isObject(card.body) && elementsAreValid(card.body.elements));
  }
  if (card.i18n_elements !== undefined) {
    if (!isObject(card.i18n_elements) || !Object.values(card.i18n_elements).every(elementsAreValid)) return false;
  }
  return elementsAreValid(card.elements);
}

// Keys whose strings are links or resource ids: the keyword check ignores them (doc §3: "href" is
// not checked), and so does the @all check.
const NON_TEXT_KEYS = new Set(["url", "href", "multi_url", "default_url", "pc_url", "ios_url", "android_url", "img_key", "image_key", "icon", "card_link", "behaviors"]);

/** Every card text object (`{tag, content}`), header title included, links left out. */
function cardTextObjects(node: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(node)) {
    for (const item of node) cardTextObjects(item, out);
  } else if (isObject(node)) {
    if (typeof node.content === "string") out.push(node);
    for (const [key, value] of Object.entries(node)) {
      if (!NON_TEXT_KEYS.has(key) && typeof value === "object") cardTextObjects(value, out);
    }
  }
  return out;
}

function postNodes(content: Json): Json[] {
  const post = isObject(content.post) ? Object.values(content.post) : [];
  return post.flatMap((locale) => (isObject(locale) && Array.isArray(locale.content) ? locale.content.flat().filter(isObject) : []));
}

function postTitles(content: Json): string[] {
  const post = isObject(content.post) ? Object.values(content.post) : [];
  return post.flatMap((locale) => (isObject(locale) && typeof locale.title === "string" ? [locale.title] : []));
}

/**
 * The text the keyword check reads. For cards: header title and every text content (which card
 * fields Feishu scans is undocumented, doc §3; this takes all text, no links). For text and post:
 * the text, titles and link texts.
 */
export function visibleText(body: Json): string[] {
  const content = isObject(body.content) ? body.content : {};
  switch (body.msg_type) {
    case "interactive":
      return cardTextObjects(body.card).map((t) => t.content as string);
    case "text":
      return typeof content.text === "string" ? [content.text] : [];
    case "post":
      return [
        ...postTitles(content),
        ...postNodes(content).flatMap((n) => (typeof n.text === "string" ? [n.text] : [])),
      ];
    default:
      return [];
  }
}

/** True when one configured keyword appears in the visible text (case-sensitive substring). */
export function hasKeyword(body: Json, keywords: readonly string[]): boolean {
  const texts = visibleText(body);
  return keywords.some((k) => texts.some((t) => t.includes(k)));
}

const CARD_AT_ALL = /<at\s+id\s*=\s*["']?all["']?\s*\/?>/i;
const TEXT_AT_ALL = /<at\s+user_id\s*=\s*["']?all["']?\s*>/i;
const MARKUP_TAGS = new Set(["lark_md", "markdown"]);

/**
 * True when the body mentions everyone. In cards only markup text counts (`lark_md`, `markdown`):
 * the same characters in `plain_text` are shown literally and notify nobody (doc §6).
 */
export function mentionsAll(body: Json): boolean {
  const content = isObject(body.content) ? body.content : {};
  switch (body.msg_type) {
    case "interactive":
      return cardTextObjects(body.card).some(
        (t) => typeof t.tag === "string" && MARKUP_TAGS.has(t.tag) && CARD_AT_ALL.test(t.content as string),
      );
    case "text":
      return typeof content.text === "string" && TEXT_AT_ALL.test(content.text);
    case "post":
      return postNodes(content).some((n) => n.tag === "at" && n.user_id === "all");
    default:
      return false;
  }
}
