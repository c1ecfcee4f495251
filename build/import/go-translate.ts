/**
 * @module Go text/template → TypeScript, for templates evaluated on kubernetes-event-exporter's
 * EnhancedEvent (a core/v1 Event plus the involved object's labels and annotations). Each field
 * is mapped to the handler's `event`, and each value is printed the way Go's fmt prints it
 * (times as `2026-11-20 14:00:00 +0800 CST`, maps as `map[k:v]`), so the handler produces the
 * same text. In lark_md, every value is escaped (`escapeMd`): Go inserts it raw, which lets event
 * text inject mentions and links; here it shows the same characters but stays text.
 */
import { GoTemplateSyntaxError, parseGoTemplate, UnsupportedTemplateError, type Command, type Operand, type Pipeline, type TemplateNode } from "./go-template.ts";

export type GoType = "string" | "int" | "float" | "bool" | "time" | "microtime" | "map" | "nil";

/** A translated value: TypeScript code and the Go type it stands for. */
interface Expr {
  code: string;
  type: GoType;
  /** Only usable as a condition (and/or on non-bool values print a value in Go, not true/false). */
  conditionOnly?: boolean;
}

/** Helper functions a translation needs; the generated handler defines them once (see GO_HELPERS). */
export type HelperName = keyof typeof GO_HELPERS;

export type Translation =
  /** The template has no action: the string is sent as written. */
  | { kind: "static"; value: string }
  /** A TypeScript template literal (backticks included) that evaluates to the same string. */
  | { kind: "code"; code: string; helpers: HelperName[] }
  /** Go's Parse fails: event-exporter v0.11 then sends "" for this value, silently. */
  | { kind: "syntax-error"; reason: string }
  /** Outside what the importer translates, or what a handler can know. */
  | { kind: "unsupported"; reason: string };

type Unsupported = { unsupported: string };

/**
 * EnhancedEvent fields (Go names) → the handler's event. Event-exporter decodes the core/v1
 * Event the API server sent; `event` is that Event normalised (see sdk/event.ts).
 */
const FIELDS: Record<string, Expr | Unsupported> = {
  Type: { code: "event.type", type: "string" },
  Reason: { code: "event.reason", type: "string" },
  Message: { code: "event.message", type: "string" },
  Action: { code: "event.action", type: "string" },
  Count: { code: "event.count", type: "int" },
  ReportingController: { code: "event.reportingComponent", type: "string" },
  ReportingInstance: { code: "event.reportingInstance", type: "string" },
  FirstTimestamp: { code: "event.firstTimestamp", type: "time" },
  LastTimestamp: { code: "event.lastTimestamp", type: "time" },
  EventTime: { code: "event.eventTime", type: "microtime" },
  "Source.Component": { code: "event.source.component", type: "string" },
  "Source.Host": { code: "event.source.host", type: "string" },
  Name: { code: "event.metadata.name", type: "string" },
  Namespace: { code: "event.metadata.namespace", type: "string" },
  UID: { code: "event.metadata.uid", type: "string" },
  ResourceVersion: { code: "event.metadata.resourceVersion", type: "string" },
  CreationTimestamp: { code: "event.metadata.creationTimestamp", type: "time" },
  Labels: { code: "event.metadata.labels", type: "map" },
  Annotations: { code: "event.metadata.annotations", type: "map" },
  "InvolvedObject.Kind": { code: "event.involvedObject.kind", type: "string" },
  "InvolvedObject.Name": { code: "event.involvedObject.name", type: "string" },
  "InvolvedObject.Namespace": { code: "event.involvedObject.namespace", type: "string" },
  "InvolvedObject.UID": { code: "event.involvedObject.uid", type: "string" },
  "InvolvedObject.APIVersion": { code: "event.involvedObject.apiVersion", type: "string" },
  "InvolvedObject.FieldPath": { code: "event.involvedObject.fieldPath", type: "string" },
  "InvolvedObject.Labels": { unsupported: "the involved object's labels are looked up by event-exporter from the API; handlers get only the Event" },
  "InvolvedObject.Annotations": { unsupported: "the involved object's annotations are looked up by event-exporter from the API; handlers get only the Event" },
  "InvolvedObject.ResourceVersion": { unsupported: "the involved object's resourceVersion is not part of the handler's event" },
  Kind: { unsupported: "{{ .Kind }} is the Event's own (usually empty) kind in event-exporter; you probably mean {{ .InvolvedObject.Kind }}" },
  APIVersion: { unsupported: "{{ .APIVersion }} is the Event's own (usually empty) apiVersion in event-exporter; you probably mean {{ .InvolvedObject.APIVersion }}" },
  ClusterName: { unsupported: "{{ .ClusterName }} is always empty on Events in event-exporter v0.11; use ctx.cluster in the handler instead" },
};

const STRUCTS = new Set(["", "Source", "InvolvedObject", "Series", "Related", "ObjectMeta", "Event"]);

/** Small functions reproducing Go's printing; added to the generated handler when used. */
export const GO_HELPERS = {
  goMicroTime: String.raw`/** Go prints a zero (null) MicroTime as the zero time. */
function goMicroTime(ctx: HandlerContext, iso: string | null): string {
  return iso ? ctx.formatTime(iso, "go") : "0001-01-01 00:00:00 +0000 UTC";
}`,
  goMap: String.raw`/** fmt's %v of a map[string]string: map[k1:v1 k2:v2], keys sorted. */
function goMap(m: Record<string, string>): string {
  return "map[" + Object.keys(m).sort().map((k) => k + ":" + m[k]).join(" ") + "]";
}`,
  goJson: String.raw`/** encoding/json of a string: Go escapes <, >, &, U+2028/9 and control characters as \uXXXX. */
function goJson(value: string): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]|\\[bf]/g, (c) =>
    "\\u" + (c.length === 2 ? (c === "\\b" ? 8 : 12) : c.charCodeAt(0)).toString(16).padStart(4, "0"));
}`,
  goJsonMap: String.raw`/** encoding/json of a map[string]string: keys sorted. */
function goJsonMap(m: Record<string, string>): string {
  return "{" + Object.keys(m).sort().map((k) => goJson(k) + ":" + goJson(m[k] ?? "")).join(",") + "}";
}`,
  goJsonTime: String.raw`/** encoding/json of a metav1.Time: RFC 3339 in UTC, whole seconds; null when zero. */
function goJsonTime(iso: string | null): string {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? "null" : JSON.stringify(new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z"));
}`,
  goQuote: String.raw`/** strconv.Quote: a double-quoted Go string literal. */
function goQuote(s: string): string {
  const named: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\u0007": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v" };
  return '"' + s.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => named[c] ?? "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0")) + '"';
}`,
  goLen: String.raw`/** len of a Go string: its UTF-8 byte count. */
function goLen(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}`,
} as const;

/** Marks the value of a failed translation, so callers can list every problem at once. */
class Untranslatable extends Error {}

interface Scope {
  helpers: Set<HelperName>;
}

function unsupported(reason: string): never {
  throw new Untranslatable(reason);
}

function fieldExpr(path: string[]): Expr {
  const key = path.join(".");
  const known = FIELDS[key];
  if (known && "code" in known) return known;
  if (known) unsupported(known.unsupported);
  // `.Labels.app` on a map is an index; a missing key gives the zero value "".
  const parent = FIELDS[path.slice(0, -1).join(".")];
  const last = path[path.length - 1] ?? "";
  if (path.length >= 2 && parent && "code" in parent && parent.type === "map") {
    return { code: `(${parent.code}[${JSON.stringify(last)}] ?? "")`, type: "string" };
  }
  if (parent && !("code" in parent)) unsupported(parent.unsupported);
  if (STRUCTS.has(key)) unsupported(`{{ .${key} }} prints a whole Go struct; name one of its fields instead`);
  unsupported(`{{ .${key} }} is not a field the importer knows on event-exporter's event (event-exporter fails to send any card whose layout names a field that does not exist)`);
}

/** Go's truthiness as a TypeScript boolean expression. */
function truthy(e: Expr): string {
  switch (e.type) {
    case "bool": return e.code;
    case "string": return `${e.code} !== ""`;
    case "int": case "float": return `${e.code} !== 0`;
    case "map": return `Object.keys(${e.code}).length > 0`;
    case "nil": return "false";
    // Structs are never empty in Go templates, even a zero time.
    case "time": case "microtime": return "true";
  }
}

/** The code of a string expression that is `e` as fmt prints it. */
function printed(e: Expr, scope: Scope): string {
  if (e.conditionOnly) unsupported("printing the result of and/or is not supported; use it in {{ if }}");
  switch (e.type) {
    case "string": return e.code;
    case "int": case "float": case "bool": return `String(${e.code})`;
    case "nil": return JSON.stringify("<nil>");
    case "time": return `ctx.formatTime(${e.code}, "go")`;
    case "microtime":
      scope.helpers.add("goMicroTime");
      return `goMicroTime(ctx, ${e.code})`;
    case "map":
      scope.helpers.add("goMap");
      return `goMap(${e.code})`;
  }
}

function operandExpr(op: Operand, scope: Scope): Expr {
  switch (op.kind) {
    case "field":
      if (op.path.length === 0) unsupported("{{ . }} is the whole event; name one of its fields instead");
      return fieldExpr(op.path);
    case "string": return { code: JSON.stringify(op.value), type: "string" };
    case "number": return { code: String(op.value), type: /[.eE]/.test(op.text) && !/^[+-]?0[xX]/.test(op.text) ? "float" : "int" };
    case "bool": return { code: String(op.value), type: "bool" };
    case "nil": return { code: "null", type: "nil" };
    case "pipe": return pipelineExpr(op.pipeline, scope);
    case "func": return callExpr(op.name, [], scope);
  }
}

function pipelineExpr(p: Pipeline, scope: Scope): Expr {
  let piped: Expr | undefined;
  for (const cmd of p.commands) piped = commandExpr(cmd, piped, scope);
  if (!piped) throw new GoTemplateSyntaxError("empty pipeline");
  return piped;
}

function commandExpr(cmd: Command, piped: Expr | undefined, scope: Scope): Expr {
  const [head, ...rest] = cmd.operands;
  if (head === undefined) throw new GoTemplateSyntaxError("empty command");
  if (head.kind === "func") {
    const args = rest.map((a) => operandExpr(a, scope));
    return callExpr(head.name, piped ? [...args, piped] : args, scope);
  }
  if (rest.length > 0 || piped) {
    unsupported("only functions take arguments (a field followed by values is a method call in Go)");
  }
  return operandExpr(head, scope);
}

function arity(name: string, args: Expr[], n: number): void {
  if (args.length !== n) unsupported(`${name} takes ${n} argument(s) here, got ${args.length}`);
}

function sameTypes(name: string, a: Expr, b: Expr): void {
  const numeric = (t: GoType) => t === "int" || t === "float";
  if (a.type !== b.type && !(numeric(a.type) && numeric(b.type))) unsupported(`${name} on a ${a.type} and a ${b.type} fails in Go ("incompatible types for comparison")`);
  if (a.type === "map" || a.type === "time" || a.type === "microtime") unsupported(`${name} on ${a.type} values is not supported`);
}

function stringArg(name: string, e: Expr): string {
  if (e.type !== "string") unsupported(`${name} needs a string here, got a ${e.type}`);
  return e.code;
}

const COMPARE: Record<string, string> = { lt: "<", le: "<=", gt: ">", ge: ">=" };

function callExpr(name: string, args: Expr[], scope: Scope): Expr {
  const [a, b] = args;
  switch (name) {
    case "eq": {
      if (a === undefined || args.length < 2) unsupported("eq needs at least two arguments");
      for (const other of args.slice(1)) sameTypes("eq", a, other);
      return { code: `(${args.slice(1).map((o) => `${a.code} === ${o.code}`).join(" || ")})`, type: "bool" };
    }
    case "ne":
      arity(name, args, 2);
      if (!a || !b) break;
      sameTypes(name, a, b);
      return { code: `(${a.code} !== ${b.code})`, type: "bool" };
    case "lt": case "le": case "gt": case "ge":
      arity(name, args, 2);
      if (!a || !b) break;
      sameTypes(name, a, b);
      return { code: `(${a.code} ${COMPARE[name]} ${b.code})`, type: "bool" };
    case "not":
      arity(name, args, 1);
      if (!a) break;
      return { code: `!(${truthy(a)})`, type: "bool" };
    case "and": case "or": {
      if (args.length < 2) unsupported(`${name} needs at least two arguments`);
      const allBool = args.every((x) => x.type === "bool");
      return { code: `(${args.map((x) => `(${truthy(x)})`).join(name === "and" ? " && " : " || ")})`, type: "bool", conditionOnly: !allBool };
    }
    case "len":
      arity(name, args, 1);
      if (!a) break;
      if (a.type === "string") {
        scope.helpers.add("goLen");
        return { code: `goLen(${a.code})`, type: "int" };
      }
      if (a.type === "map") return { code: `Object.keys(${a.code}).length`, type: "int" };
      return unsupported(`len of a ${a.type} fails in Go`);
    case "index":
      arity(name, args, 2);
      if (!a || !b) break;
      if (a.type !== "map") unsupported(`index on a ${a.type} is not supported (only maps such as .Labels)`);
      return { code: `(${a.code}[${stringArg(name, b)}] ?? "")`, type: "string" };
    case "print": case "toString":
      arity(name, args, 1);
      if (!a) break;
      return { code: printed(a, scope), type: "string" };
    case "printf":
      return printf(args, scope);
    case "toJson":
      arity(name, args, 1);
      if (!a) break;
      return { code: toJson(a, scope), type: "string" };
    case "default": {
      arity(name, args, 2);
      if (!a || !b) break;
      if (a.type !== b.type) unsupported("default with a fallback of another type than the value is not supported");
      return { code: `(${truthy(b)} ? ${b.code} : ${a.code})`, type: b.type };
    }
    case "upper": case "lower": case "trim":
      arity(name, args, 1);
      if (!a) break;
      return { code: `${stringArg(name, a)}.${name === "upper" ? "toUpperCase" : name === "lower" ? "toLowerCase" : "trim"}()`, type: "string" };
    case "quote":
      arity(name, args, 1);
      if (!a) break;
      scope.helpers.add("goQuote");
      return { code: a.type === "nil" ? '""' : `goQuote(${printed(a, scope)})`, type: "string" };
    case "replace": {
      arity(name, args, 3);
      const [from, to, s] = args;
      if (!from || !to || !s) break;
      return { code: `${stringArg(name, s)}.split(${stringArg(name, from)}).join(${stringArg(name, to)})`, type: "string" };
    }
    case "contains": case "hasPrefix": case "hasSuffix": {
      arity(name, args, 2);
      if (!a || !b) break;
      const method = name === "contains" ? "includes" : name === "hasPrefix" ? "startsWith" : "endsWith";
      return { code: `${stringArg(name, b)}.${method}(${stringArg(name, a)})`, type: "bool" };
    }
  }
  return unsupported(`the function ${name} is not supported by the importer (if it is not a Go or sprig function at all, event-exporter v0.11 sends an empty string here)`);
}

function toJson(e: Expr, scope: Scope): string {
  switch (e.type) {
    case "string":
      scope.helpers.add("goJson");
      return `goJson(${e.code})`;
    case "int": case "float": case "bool": return `String(${e.code})`;
    case "nil": return '"null"';
    case "map":
      scope.helpers.add("goJson");
      scope.helpers.add("goJsonMap");
      return `goJsonMap(${e.code})`;
    case "time": case "microtime":
      scope.helpers.add("goJsonTime");
      return `goJsonTime(${e.code})`;
  }
}

/** printf with a literal format and the verbs %s %v %d %q %%, compiled to a template literal. */
function printf(args: Expr[], scope: Scope): Expr {
  const [format, ...values] = args;
  if (!format || format.type !== "string" || !format.code.startsWith('"')) unsupported("printf needs a literal format string");
  const text = JSON.parse(format.code) as string;
  let out = "";
  let next = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "%") {
      out += literal(c ?? "");
      continue;
    }
    const verb = text[++i];
    if (verb === "%") {
      out += "%";
      continue;
    }
    const value = values[next++];
    if (!value) unsupported("printf has fewer arguments than verbs (Go would print %!v(MISSING))");
    if (verb === "s" || verb === "v") out += `\${${printed(value, scope)}}`;
    else if (verb === "d" && value.type === "int") out += `\${${value.code}}`;
    else if (verb === "q" && value.type === "string") {
      scope.helpers.add("goQuote");
      out += `\${goQuote(${value.code})}`;
    } else unsupported(`printf verb %${verb ?? ""} with a ${value.type} is not supported (supported: %s %v %d %q %%, no flags or widths)`);
  }
  if (next !== values.length) unsupported("printf has more arguments than verbs (Go would print %!(EXTRA …))");
  return { code: `\`${out}\``, type: "string" };
}

/** Text for inside a TypeScript template literal. */
function literal(text: string): string {
  return text.replace(/[\\`]|\$\{|\r/g, (m) => (m === "\r" ? "\\r" : m === "${" ? "\\${" : `\\${m}`));
}

function nodesCode(nodes: readonly TemplateNode[], escape: boolean, scope: Scope): string {
  let out = "";
  for (const node of nodes) {
    if (node.kind === "text") out += literal(node.text);
    else if (node.kind === "action") {
      const value = printed(pipelineExpr(node.pipeline, scope), scope);
      out += `\${${escape ? `escapeMd(${value})` : value}}`;
    } else {
      const condition = truthy(pipelineExpr(node.pipeline, scope));
      out += `\${${condition} ? \`${nodesCode(node.then, escape, scope)}\` : \`${nodesCode(node.otherwise, escape, scope)}\`}`;
    }
  }
  return out;
}

/**
 * Translate one layout string. With `escapeValues`, every value is wrapped in `escapeMd(…)`
 * (for lark_md and markdown content). The literal parts are kept as written: they are the
 * config author's own Markdown.
 */
export function translateTemplate(template: string, escapeValues: boolean): Translation {
  if (!template.includes("{{")) return { kind: "static", value: template };
  let nodes: TemplateNode[];
  try {
    nodes = parseGoTemplate(template);
  } catch (err) {
    if (err instanceof GoTemplateSyntaxError) return { kind: "syntax-error", reason: err.message };
    if (err instanceof UnsupportedTemplateError) return { kind: "unsupported", reason: err.message };
    throw err;
  }
  const scope: Scope = { helpers: new Set() };
  try {
    const body = nodesCode(nodes, escapeValues, scope);
    return { kind: "code", code: `\`${body}\``, helpers: [...scope.helpers].sort() };
  } catch (err) {
    if (err instanceof Untranslatable) return { kind: "unsupported", reason: err.message };
    if (err instanceof GoTemplateSyntaxError) return { kind: "syntax-error", reason: err.message };
    throw err;
  }
}
