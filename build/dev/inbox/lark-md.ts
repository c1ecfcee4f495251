/**
 * @module lark_md as Feishu renders it, turned into plain data for the card inbox: bold, italic,
 * strike-through, links, mentions, `<font>` colours and line breaks; every other character is
 * text. HTML entities (`&#60;`, `&amp;`, …) are decoded only inside text, after the markup is
 * read, so an escaped `&#42;&#42;` shows two stars and never starts bold text, as in Feishu.
 * Runs in the browser too (bundled into the inbox), so it uses no Node API.
 */

export type MdNode =
  | { t: "text"; text: string }
  | { t: "br" }
  | { t: "b" | "i" | "s"; children: MdNode[] }
  | { t: "a"; href: string; children: MdNode[] }
  | { t: "at"; who: string }
  | { t: "font"; color: string; children: MdNode[] };

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", ensp: "\u2002", emsp: "\u2003", sim: "~" };

/** Decode HTML entities the way Feishu shows them: numeric (decimal, hex) and the common names. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-z]+));/g, (whole, _e: string, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED[name] ?? whole;
    const code = dec !== undefined ? Number(dec) : parseInt(hex ?? "", 16);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** Links open only http(s) URLs, as Feishu requires; anything else stays text. */
export function safeHref(url: string): string | undefined {
  const decoded = decodeEntities(url.trim());
  return /^https?:\/\/[^\s<>"']+$/i.test(decoded) ? decoded : undefined;
}

const COLORS = new Set(["red", "green", "grey", "gray", "blue", "orange", "yellow", "purple"]);

interface Rule {
  /** Matches at the start of the rest of the text. */
  re: RegExp;
  make(m: RegExpExecArray): MdNode[];
}

const RULES: Rule[] = [
  { re: /^\n/, make: () => [{ t: "br" }] },
  { re: /^<at\s+(?:id|ids|user_id|email|open_id)\s*=\s*["']?([^"'>\s]*)["']?\s*>(?:[^<]*)<\/at>/i, make: (m) => [{ t: "at", who: m[1] === "all" ? "all" : decodeEntities(m[1] ?? "") }] },
  { re: /^\*\*([\s\S]+?)\*\*/, make: (m) => [{ t: "b", children: parseLarkMd(m[1] ?? "") }] },
  { re: /^__([\s\S]+?)__/, make: (m) => [{ t: "b", children: parseLarkMd(m[1] ?? "") }] },
  { re: /^~~([\s\S]+?)~~/, make: (m) => [{ t: "s", children: parseLarkMd(m[1] ?? "") }] },
  { re: /^\*([^*\n]+?)\*/, make: (m) => [{ t: "i", children: parseLarkMd(m[1] ?? "") }] },
  {
    re: /^\[([^\]\n]*)\]\(([^)\s]*)\)/,
    make: (m) => {
      const href = safeHref(m[2] ?? "");
      const children = parseLarkMd(m[1] ?? "");
      return href ? [{ t: "a", href, children }] : [{ t: "text", text: decodeEntities(m[0]) }];
    },
  },
  {
    re: /^<a\s+href\s*=\s*["']([^"']*)["']\s*>([\s\S]*?)<\/a>/i,
    make: (m) => {
      const href = safeHref(m[1] ?? "");
      const children = m[2] ? parseLarkMd(m[2]) : [{ t: "text" as const, text: decodeEntities(m[1] ?? "") }];
      return href ? [{ t: "a", href, children }] : children;
    },
  },
  {
    re: /^<font\s+color\s*=\s*["']?([a-z-]+)["']?\s*>([\s\S]*?)<\/font>/i,
    make: (m) => {
      const color = (m[1] ?? "").toLowerCase().replace(/^.*-/, "");
      const children = parseLarkMd(m[2] ?? "");
      return COLORS.has(color) ? [{ t: "font", color, children }] : children;
    },
  },
  { re: /^<text_tag[^>]*>([\s\S]*?)<\/text_tag>/i, make: (m) => [{ t: "b", children: parseLarkMd(m[1] ?? "") }] },
];

/** Characters that can start markup; text runs up to the next one. */
const SPECIAL = /[\n*_~[<]/;

function pushText(out: MdNode[], text: string): void {
  const last = out[out.length - 1];
  if (last?.t === "text") last.text += text;
  else out.push({ t: "text", text });
}

/** Parse lark_md content into nodes; text nodes hold decoded characters. */
export function parseLarkMd(content: string): MdNode[] {
  const out: MdNode[] = [];
  let rest = content;
  while (rest.length > 0) {
    let matched = false;
    for (const rule of RULES) {
      const m = rule.re.exec(rest);
      if (!m) continue;
      for (const node of rule.make(m)) {
        if (node.t === "text") pushText(out, node.text);
        else out.push(node);
      }
      rest = rest.slice(m[0].length);
      matched = true;
      break;
    }
    if (matched) continue;
    // No markup here: take the special character literally, then text up to the next one.
    const next = rest.slice(1).search(SPECIAL);
    const run = next === -1 ? rest : rest.slice(0, next + 1);
    pushText(out, decodeEntities(run));
    rest = rest.slice(run.length);
  }
  return out;
}

/** The text a reader sees, markup removed (for tests and plain-text views). */
export function larkMdText(nodes: readonly MdNode[]): string {
  return nodes
    .map((n) => {
      switch (n.t) {
        case "text": return n.text;
        case "br": return "\n";
        case "at": return n.who === "all" ? "@all" : `@${n.who}`;
        default: return larkMdText(n.children);
      }
    })
    .join("");
}
