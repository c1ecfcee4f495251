/**
 * lark_md text that is safe by construction. Untrusted strings (event messages, object names,
 * labels) only ever reach lark_md through `md` or `escapeMd`, which turn every character that
 * Feishu's Markdown, links, emoji codes or `<at>` mentions could use into an HTML numeric
 * entity (Feishu card docs, "特殊字符转义说明"). `&` is escaped too, so data that already holds
 * an entity such as `&#60;` is shown literally instead of being decoded.
 */

export interface LarkMd {
  tag: "lark_md";
  content: string;
}

const SPECIAL = /[&<>*_~`[\]()#!:+\-/\\"'$|.@{}=%]/g;

/** Escape untrusted text for lark_md. Newlines stay line breaks; nothing else is live. */
export function escapeMd(text: string): string {
  return String(text).replace(SPECIAL, (c) => `&#${c.charCodeAt(0)};`);
}

/** Markdown that the author vouches for, such as a mention built by `at()` or a link by `link()`. */
export interface Trusted {
  readonly trustedMd: string;
}

function isTrusted(v: unknown): v is Trusted {
  return typeof v === "object" && v !== null && typeof (v as Trusted).trustedMd === "string";
}

/**
 * Tagged template for lark_md: the literal parts are the author's Markdown, every
 * interpolated value is escaped unless it was built by `at`, `link` or `raw`.
 * @example md`**Reason:** ${event.reason}`
 */
export function md(strings: TemplateStringsArray, ...values: unknown[]): LarkMd {
  let content = strings[0] ?? "";
  values.forEach((v, i) => {
    content += (isTrusted(v) ? v.trustedMd : escapeMd(v == null ? "" : String(v))) + (strings[i + 1] ?? "");
  });
  return { tag: "lark_md", content };
}

/** Author-written Markdown, not escaped. Never pass event data here. */
export function raw(markdown: string): Trusted {
  return { trustedMd: markdown };
}

/**
 * Mention a user by open_id (`ou_…`), or everyone with "all". The id must be a plain id;
 * anything else is refused so event data can never turn into a mention.
 */
export function at(id: string): Trusted {
  if (!/^(all|[A-Za-z0-9_-]{1,64})$/.test(id)) throw new Error(`at(): not a Feishu user id: ${JSON.stringify(id)}`);
  return { trustedMd: `<at id=${id}></at>` };
}

/** A link with escaped text. Only http and https URLs are accepted, as Feishu requires. */
export function link(text: string, url: string): Trusted {
  return { trustedMd: `[${escapeMd(text)}](${safeUrl(url)})` };
}

/** Validate a URL for a card link or button: http(s) only, no spaces or brackets. */
export function safeUrl(url: string): string {
  if (!/^https?:\/\/[^\s()<>"'\\]+$/.test(url)) throw new Error(`not an http(s) URL Feishu accepts: ${JSON.stringify(url)}`);
  return url;
}
