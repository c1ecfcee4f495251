/**
 * @module A parser for the part of Go's text/template language that kubernetes-event-exporter
 * layouts use: text, `{{ pipeline }}` actions with `{{-`/`-}}` trimming and comments, field
 * chains (`.InvolvedObject.Kind`), string/number/bool literals, function calls and `|` pipes,
 * parentheses, and `if`/`else if`/`else`/`end`. `with`, `range`, variables, `define` and
 * `template` are reported as unsupported rather than guessed at.
 */

export type Operand =
  | { kind: "field"; path: string[] }
  | { kind: "string"; value: string }
  | { kind: "number"; value: number; text: string }
  | { kind: "bool"; value: boolean }
  | { kind: "nil" }
  | { kind: "func"; name: string }
  | { kind: "pipe"; pipeline: Pipeline };

/** One command of a pipeline: a function with its arguments, or a single operand. */
export interface Command {
  operands: Operand[];
}

/** Commands joined by `|`; each command's result is the last argument of the next. */
export interface Pipeline {
  commands: Command[];
}

export type TemplateNode =
  | { kind: "text"; text: string }
  | { kind: "action"; pipeline: Pipeline }
  | { kind: "if"; pipeline: Pipeline; then: TemplateNode[]; otherwise: TemplateNode[] };

/** The template is not valid Go template syntax: Go's Parse would fail too. */
export class GoTemplateSyntaxError extends Error {
  override name = "GoTemplateSyntaxError";
}

/** Valid Go, but outside the subset the importer translates. */
export class UnsupportedTemplateError extends Error {
  override name = "UnsupportedTemplateError";
}

type Token =
  /** `glued`: written right after the previous token, so `.A.B` is one chain and `.A .B` two operands. */
  | { t: "field"; name: string; glued: boolean }
  | { t: "dot" }
  | { t: "var"; name: string }
  | { t: "ident"; name: string }
  | { t: "string"; value: string }
  | { t: "number"; value: number; text: string }
  | { t: "char" }
  | { t: "pipe" }
  | { t: "open" }
  | { t: "close" }
  | { t: "declare" }
  | { t: "comma" };

const SPACE = /[ \t\r\n]/;
const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"]);

/** Go's string literal escapes (a JSON-like set plus \a \b \f \v \x \U and octal). */
function unquote(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, e: string) => {
    switch (e[0]) {
      case "n": return "\n";
      case "t": return "\t";
      case "r": return "\r";
      case "a": return "\u0007";
      case "b": return "\b";
      case "f": return "\f";
      case "v": return "\v";
      case "x": case "u": case "U": return String.fromCodePoint(parseInt(e.slice(1), 16));
      case "\\": case '"': case "'": return e;
      default:
        if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
        throw new GoTemplateSyntaxError(`unknown escape sequence \\${e}`);
    }
  });
}

/** The tokens of one action's inside (between the delimiters, trim markers removed). */
function lexAction(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? "";
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    const rest = src.slice(i);
    let m: RegExpExecArray | null;
    if (c === "|") tokens.push({ t: "pipe" }), i++;
    else if (c === "(") tokens.push({ t: "open" }), i++;
    else if (c === ")") tokens.push({ t: "close" }), i++;
    else if (c === ",") tokens.push({ t: "comma" }), i++;
    else if (rest.startsWith(":=") || (c === "=" && rest[1] !== "=")) {
      tokens.push({ t: "declare" });
      i += c === ":" ? 2 : 1;
    } else if ((m = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(rest))) {
      tokens.push({ t: "field", name: m[1] ?? "", glued: i > 0 && !SPACE.test(src[i - 1] ?? "") });
      i += m[0].length;
    } else if (c === ".") tokens.push({ t: "dot" }), i++;
    else if ((m = /^\$([A-Za-z_][A-Za-z0-9_]*)?/.exec(rest))) {
      tokens.push({ t: "var", name: m[1] ?? "" });
      i += m[0].length;
    } else if ((m = /^"((?:[^"\\\n]|\\.)*)"/.exec(rest))) {
      tokens.push({ t: "string", value: unquote(m[1] ?? "") });
      i += m[0].length;
    } else if ((m = /^`([^`]*)`/.exec(rest))) {
      tokens.push({ t: "string", value: m[1] ?? "" });
      i += m[0].length;
    } else if ((m = /^'(?:[^'\\]|\\.)+'/.exec(rest))) {
      tokens.push({ t: "char" });
      i += m[0].length;
    } else if ((m = /^[+-]?(0[xX][0-9a-fA-F_]+|(\d[\d_]*)?\.?\d+([eE][+-]?\d+)?)/.exec(rest))) {
      const text = m[0];
      tokens.push({ t: "number", value: Number(text.replace(/_/g, "")), text });
      i += text.length;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      tokens.push({ t: "ident", name: m[0] });
      i += m[0].length;
    } else if (c === '"' || c === "`") {
      throw new GoTemplateSyntaxError("unterminated quoted string");
    } else {
      throw new GoTemplateSyntaxError(`unexpected ${JSON.stringify(c)} in an action`);
    }
  }
  return tokens;
}

interface RawAction {
  kind: "action";
  tokens: Token[];
  source: string;
}
type RawItem = { kind: "text"; text: string } | RawAction;

/** Split a template into text and action items, applying `{{-` and `-}}` trimming; comments vanish. */
function split(template: string): RawItem[] {
  const items: RawItem[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos <= template.length) {
    const open = template.indexOf("{{", pos);
    let text = template.slice(pos, open === -1 ? undefined : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
    if (open === -1) {
      if (text) items.push({ kind: "text", text });
      break;
    }
    let inner = open + 2;
    // "{{- " trims the text before; the dash must be followed by a space to be a marker.
    if (template[inner] === "-" && SPACE.test(template[inner + 1] ?? "")) {
      text = text.replace(/[ \t\r\n]+$/, "");
      inner += 2;
    }
    if (text) items.push({ kind: "text", text });
    const closeAt = findClose(template, inner);
    if (closeAt === -1) throw new GoTemplateSyntaxError("unclosed action: no matching }}");
    let end = closeAt;
    trimNext = false;
    if (template[closeAt - 1] === "-" && SPACE.test(template[closeAt - 2] ?? "")) {
      trimNext = true;
      end = closeAt - 2;
    }
    const source = template.slice(inner, end);
    const trimmed = source.trim();
    if (trimmed.startsWith("/*")) {
      if (!trimmed.endsWith("*/")) throw new GoTemplateSyntaxError("unclosed comment");
    } else {
      items.push({ kind: "action", tokens: lexAction(source), source: trimmed });
    }
    pos = closeAt + 2;
  }
  return items;
}

/** The `}}` that closes the action starting at `from`, skipping quoted strings and comments. */
function findClose(s: string, from: number): number {
  let i = from;
  while (i < s.length) {
    const c = s[i];
    if (s.startsWith("/*", i)) {
      const endComment = s.indexOf("*/", i + 2);
      if (endComment === -1) return -1;
      i = endComment + 2;
    } else if (c === '"' || c === "`" || c === "'") {
      const m = (c === '"' ? /^"(?:[^"\\\n]|\\.)*"/ : c === "`" ? /^`[^`]*`/ : /^'(?:[^'\\]|\\.)*'/).exec(s.slice(i));
      if (!m) return -1;
      i += m[0].length;
    } else if (s.startsWith("}}", i)) return i;
    else i++;
  }
  return -1;
}

class TokenStream {
  readonly #tokens: Token[];
  #i = 0;
  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }
  peek(): Token | undefined {
    return this.#tokens[this.#i];
  }
  next(): Token | undefined {
    return this.#tokens[this.#i++];
  }
  get done(): boolean {
    return this.#i >= this.#tokens.length;
  }
}

function parsePipeline(ts: TokenStream, inParens: boolean): Pipeline {
  const commands: Command[] = [];
  let operands: Operand[] = [];
  const finish = () => {
    if (operands.length === 0) throw new GoTemplateSyntaxError("missing value for command");
    commands.push({ operands });
    operands = [];
  };
  for (;;) {
    const tok = ts.peek();
    if (tok === undefined || tok.t === "close") {
      if (tok?.t === "close" && !inParens) throw new GoTemplateSyntaxError("unexpected right paren");
      if (tok === undefined && inParens) throw new GoTemplateSyntaxError("unclosed left paren");
      finish();
      return { commands };
    }
    ts.next();
    switch (tok.t) {
      case "pipe":
        finish();
        break;
      case "declare":
        throw new UnsupportedTemplateError("variable declarations ($x := …) are not supported");
      case "comma":
        throw new UnsupportedTemplateError("range variable lists are not supported");
      case "char":
        throw new UnsupportedTemplateError("character constants are not supported");
      case "var":
        if (tok.name !== "") throw new UnsupportedTemplateError(`variables ($${tok.name}) are not supported`);
        // `$` is the data passed to Execute; without with/range it is the same as `.`.
        operands.push(withFields(ts, { kind: "field", path: [] }));
        break;
      case "dot":
        operands.push({ kind: "field", path: [] });
        break;
      case "field":
        operands.push(withFields(ts, { kind: "field", path: [tok.name] }));
        break;
      case "string":
        operands.push({ kind: "string", value: tok.value });
        break;
      case "number":
        operands.push({ kind: "number", value: tok.value, text: tok.text });
        break;
      case "open": {
        const inner = parsePipeline(ts, true);
        ts.next(); // the close paren
        const after = ts.peek();
        if (after?.t === "field") throw new UnsupportedTemplateError("fields of a parenthesized value are not supported");
        operands.push({ kind: "pipe", pipeline: inner });
        break;
      }
      case "ident":
        if (tok.name === "true" || tok.name === "false") operands.push({ kind: "bool", value: tok.name === "true" });
        else if (tok.name === "nil") operands.push({ kind: "nil" });
        else if (KEYWORDS.has(tok.name)) throw new GoTemplateSyntaxError(`unexpected keyword ${tok.name} in an operand`);
        else operands.push({ kind: "func", name: tok.name });
        break;
    }
  }
}

/** Fields written right after an operand (`.A.B`), without spaces between. */
function withFields(ts: TokenStream, field: { kind: "field"; path: string[] }): Operand {
  for (let tok = ts.peek(); tok?.t === "field" && tok.glued; tok = ts.peek()) {
    ts.next();
    field.path.push(tok.name);
  }
  return field;
}

type Stop = "end" | "else" | "eof";

function keywordOf(item: RawAction): string | undefined {
  const first = item.tokens[0];
  return first?.t === "ident" && KEYWORDS.has(first.name) ? first.name : undefined;
}

/** Parse items from `at` until an `else`/`end` (returned) or the end of input. */
function parseList(items: RawItem[], at: { i: number }): { nodes: TemplateNode[]; stop: Stop; stopItem?: RawAction } {
  const nodes: TemplateNode[] = [];
  while (at.i < items.length) {
    const item = items[at.i++];
    if (item === undefined) break;
    if (item.kind === "text") {
      nodes.push(item);
      continue;
    }
    const keyword = keywordOf(item);
    if (keyword === "end" || keyword === "else") return { nodes, stop: keyword, stopItem: item };
    if (keyword === "if") {
      nodes.push(parseIf(item, items, at));
      continue;
    }
    if (keyword !== undefined) throw new UnsupportedTemplateError(`{{ ${keyword} }} is not supported`);
    if (item.tokens.length === 0) throw new GoTemplateSyntaxError("missing value for command");
    const ts = new TokenStream(item.tokens);
    nodes.push({ kind: "action", pipeline: parsePipeline(ts, false) });
  }
  return { nodes, stop: "eof" };
}

function conditionOf(tokens: Token[]): Pipeline {
  if (tokens.length === 0) throw new GoTemplateSyntaxError("missing value for if");
  return parsePipeline(new TokenStream(tokens), false);
}

function parseIf(head: RawAction, items: RawItem[], at: { i: number }): TemplateNode {
  const pipeline = conditionOf(head.tokens.slice(1));
  const then = parseList(items, at);
  if (then.stop === "eof") throw new GoTemplateSyntaxError("unexpected EOF: {{ if }} without {{ end }}");
  if (then.stop === "end") return { kind: "if", pipeline, then: then.nodes, otherwise: [] };
  const elseTokens = then.stopItem?.tokens.slice(1) ?? [];
  const second = elseTokens[0];
  if (second?.t === "ident" && second.name === "if") {
    // `{{ else if x }}` is an if nested in the else branch that shares its {{ end }}.
    const nested = parseIf({ kind: "action", tokens: elseTokens, source: "" }, items, at);
    return { kind: "if", pipeline, then: then.nodes, otherwise: [nested] };
  }
  if (second?.t === "ident" && second.name === "with") throw new UnsupportedTemplateError("{{ else with }} is not supported");
  if (elseTokens.length > 0) throw new GoTemplateSyntaxError("unexpected tokens after else");
  const otherwise = parseList(items, at);
  if (otherwise.stop !== "end") throw new GoTemplateSyntaxError(otherwise.stop === "eof" ? "unexpected EOF: {{ else }} without {{ end }}" : "more than one {{ else }}");
  return { kind: "if", pipeline, then: then.nodes, otherwise: otherwise.nodes };
}

/** Parse a template. Throws GoTemplateSyntaxError or UnsupportedTemplateError. */
export function parseGoTemplate(template: string): TemplateNode[] {
  const items = split(template);
  const at = { i: 0 };
  const top = parseList(items, at);
  if (top.stop !== "eof") throw new GoTemplateSyntaxError(`unexpected {{ ${top.stop} }}`);
  return top.nodes;
}

/** True when the string has no action at all (it is sent as written). */
export function isPlainText(template: string): boolean {
  return !template.includes("{{");
}
