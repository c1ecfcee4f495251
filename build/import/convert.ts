/**
 * @module An event-exporter config → one handler's TypeScript source. The route tree is kept as
 * data and evaluated the way event-exporter v0.11 does (drop first, then match rules send to
 * their receivers, then sub-routes when every match rule matched), and each Feishu webhook
 * receiver's layout becomes a card function, its Go templates translated by go-translate.ts.
 * Everything that does not carry over is returned as notes, never silently dropped.
 */
import { goRegexp } from "./go-regexp.ts";
import { GO_HELPERS, translateTemplate, type HelperName } from "./go-translate.ts";
import { RULE_FIELDS, type ExporterConfig, type ExporterReceiver, type ExporterRoute, type ExporterRule } from "./exporter-config.ts";

export type NoteKind =
  /** Part of the config the handler does not do. */
  | "not-converted"
  /** Converted, but the handler behaves differently on purpose or by necessity. */
  | "difference"
  /** Something the person importing has to do. */
  | "todo";

export interface ImportNote {
  kind: NoteKind;
  text: string;
}

export interface ImportResult {
  /** The handler's TypeScript source. */
  source: string;
  notes: ImportNote[];
  /** Names of the receivers that became cards. */
  receivers: string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const FEISHU_HOSTS = new Set(["open.feishu.cn", "open.larksuite.com"]);

/** Settings event-exporter reads besides route and receivers, and what becomes of each. */
const SETTINGS: Record<string, (value: unknown) => ImportNote> = {
  logLevel: () => ({ kind: "not-converted", text: "logLevel: edge-alarm's log level is EDGE_ALARM_LOG_LEVEL" }),
  logFormat: () => ({ kind: "not-converted", text: "logFormat: edge-alarm always logs JSON lines" }),
  namespace: (v) => ({ kind: "todo", text: `namespace: event-exporter watched only ${JSON.stringify(v)}; set EDGE_ALARM_WATCH_NAMESPACES=${String(v)} on the dispatcher to do the same` }),
  leaderElection: () => ({ kind: "not-converted", text: "leaderElection: edge-alarm runs one dispatcher per cluster" }),
  throttlePeriod: () => ({ kind: "not-converted", text: "throttlePeriod: when a card is sent for repeats is decided by the dispatcher" }),
  maxEventAgeSeconds: () => ({ kind: "not-converted", text: "maxEventAgeSeconds: old events after a start are skipped by the dispatcher (EDGE_ALARM_INITIAL_MAX_AGE_SECONDS)" }),
  clusterName: (v) => ({ kind: "todo", text: `clusterName: set EDGE_ALARM_CLUSTER=${String(v)}; handlers read it as ctx.cluster` }),
};

interface FeishuReceiver {
  receiver: ExporterReceiver;
  card: Json;
}

/** Receivers that post a Feishu interactive card; notes for the rest. */
function feishuReceivers(config: ExporterConfig, notes: ImportNote[]): FeishuReceiver[] {
  const out: FeishuReceiver[] = [];
  for (const r of config.receivers) {
    const where = `receiver ${JSON.stringify(r.name)}`;
    if (r.kind !== "webhook") {
      const why = r.kind === "stdout" ? "edge-alarm logs its own activity as JSON; there is no event dump sink" : "edge-alarm sends Feishu cards only";
      notes.push({ kind: "not-converted", text: `${where} (${r.kind}): ${why}` });
      continue;
    }
    const layout = r.settings.layout;
    if (!isObject(layout) || layout.msg_type !== "interactive" || !isObject(layout.card)) {
      notes.push({ kind: "not-converted", text: `${where}: its layout is not a Feishu interactive card ({msg_type: interactive, card: …}); edge-alarm sends cards only` });
      continue;
    }
    const endpoint = String(r.settings.endpoint ?? "");
    let host = "";
    try {
      host = new URL(endpoint).host;
    } catch {
      host = ""; // e.g. "${WEBHOOK}": expanded from the environment, so the host is not known here
    }
    if (host && !FEISHU_HOSTS.has(host)) {
      notes.push({ kind: "not-converted", text: `${where}: posts to ${host}, not to a Feishu or Lark bot` });
      continue;
    }
    for (const key of Object.keys(layout)) {
      if (key !== "msg_type" && key !== "card") notes.push({ kind: "not-converted", text: `${where}: layout.${key} (edge-alarm builds the request body itself)` });
    }
    const headers = isObject(r.settings.headers) ? Object.keys(r.settings.headers).filter((h) => h.toLowerCase() !== "content-type") : [];
    if (headers.length) notes.push({ kind: "not-converted", text: `${where}: headers ${headers.join(", ")}` });
    if (r.settings.tls !== undefined) notes.push({ kind: "not-converted", text: `${where}: tls settings (the dispatcher uses the system's trust store)` });
    out.push({ receiver: r, card: layout.card });
  }
  return out;
}

// ── code generation ──────────────────────────────────────────────────────────

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function key(k: string): string {
  return IDENT.test(k) ? k : JSON.stringify(k);
}

function comment(text: string): string {
  return text.replace(/\*\//g, "* /");
}

interface CardScope {
  where: string;
  helpers: Set<HelperName>;
  notes: ImportNote[];
  usesEscape: boolean;
  usesTime: boolean;
  /** Non-string scalars found (event-exporter v0.11 turns them into null). */
  scalars: string[];
}

/** A layout value as TypeScript; `markdown` when it is the content of lark_md or markdown. */
function valueCode(value: unknown, path: string, indent: string, markdown: boolean, scope: CardScope): string {
  if (typeof value === "string") {
    const t = translateTemplate(value, markdown);
    switch (t.kind) {
      case "static":
        return JSON.stringify(value);
      case "code":
        for (const h of t.helpers) scope.helpers.add(h);
        if (markdown) scope.usesEscape = true;
        if (t.code.includes("ctx.formatTime") || t.helpers.includes("goMicroTime")) scope.usesTime = true;
        return t.code;
      case "syntax-error":
        scope.notes.push({ kind: "difference", text: `${scope.where}: ${path} is not a valid Go template (${t.reason}); event-exporter v0.11 sends an empty string there, and so does the handler` });
        return `"" /* not a valid Go template: ${comment(t.reason)} */`;
      case "unsupported":
        scope.notes.push({ kind: "not-converted", text: `${scope.where}: ${path}: ${t.reason}; the template text is sent as written` });
        return `${JSON.stringify(value)} /* edge-alarm import: not converted: ${comment(t.reason)} */`;
    }
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const inner = indent + "  ";
    return `[\n${value.map((v, i) => `${inner}${valueCode(v, `${path}[${i}]`, inner, false, scope)},`).join("\n")}\n${indent}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const inner = indent + "  ";
    const isMarkdown = value.tag === "lark_md" || value.tag === "markdown";
    const lines = entries.map(([k, v]) => `${inner}${key(k)}: ${valueCode(v, `${path}.${k}`, inner, isMarkdown && k === "content", scope)},`);
    return `{\n${lines.join("\n")}\n${indent}}`;
  }
  if (typeof value === "boolean" || typeof value === "number") scope.scalars.push(path);
  return JSON.stringify(value ?? null);
}

const TEXT_TAGS = new Set(["plain_text", "lark_md"]);
const HEADER_TEMPLATES = new Set(["blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine", "violet", "purple", "indigo", "grey", "default"]);

function only(obj: Json, keys: string[]): boolean {
  return Object.keys(obj).every((k) => keys.includes(k));
}

function isText(v: unknown): boolean {
  return isObject(v) && TEXT_TAGS.has(String(v.tag)) && typeof v.content === "string" && only(v, v.tag === "plain_text" ? ["tag", "content", "lines"] : ["tag", "content"]);
}

function isElement(v: unknown): boolean {
  if (!isObject(v)) return false;
  switch (v.tag) {
    case "hr": return only(v, ["tag"]);
    case "div":
      return only(v, ["tag", "text", "fields"]) && (v.text === undefined || isText(v.text)) &&
        (v.fields === undefined || (Array.isArray(v.fields) && v.fields.every((f) => isObject(f) && typeof f.is_short === "boolean" && isText(f.text) && only(f, ["is_short", "text"]))));
    case "note": return only(v, ["tag", "elements"]) && Array.isArray(v.elements) && v.elements.every(isText);
    case "action":
      return only(v, ["tag", "actions"]) && Array.isArray(v.actions) &&
        v.actions.every((b) => isObject(b) && b.tag === "button" && isText(b.text) && typeof b.url === "string" && ["default", "primary", "danger"].includes(String(b.type)));
    default: return false;
  }
}

/** Whether the layout's card fits the sdk's FeishuCard type (then the handler is fully typed). */
function fitsFeishuCard(card: Json): boolean {
  const header = card.header;
  const headerOk = header === undefined || (isObject(header) && only(header, ["title", "template"]) && isText(header.title) &&
    (header.template === undefined || HEADER_TEMPLATES.has(String(header.template))));
  const configOk = card.config === undefined || (isObject(card.config) && only(card.config, ["enable_forward", "update_multi", "wide_screen_mode"]));
  return only(card, ["config", "header", "elements"]) && headerOk && configOk && Array.isArray(card.elements) && card.elements.every(isElement);
}

function functionName(receiver: string, taken: Set<string>): string {
  const base = `${receiver.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase()).replace(/^[^A-Za-z_]+/, "") || "receiver"}Card`;
  let name = base.charAt(0).toLowerCase() + base.slice(1);
  for (let i = 2; taken.has(name); i++) name = `${base}${i}`;
  taken.add(name);
  return name;
}

function cardFunction(name: string, r: FeishuReceiver, scope: CardScope): string {
  const literal = valueCode(r.card, "card", "  ", false, scope);
  const typed = fitsFeishuCard(r.card);
  const doc = `/** The card receiver ${JSON.stringify(r.receiver.name)} posted (its webhook layout's card). */`;
  if (typed) return `${doc}\nfunction ${name}(event: KubeEvent, ctx: HandlerContext): FeishuCard {\n  return ${literal};\n}`;
  return (
    `${doc}\n// The layout uses card parts the sdk's FeishuCard type does not describe; it is sent as written.\n` +
    `function ${name}(event: KubeEvent, ctx: HandlerContext): FeishuCard {\n  const card = ${literal};\n  return card as unknown as FeishuCard;\n}`
  );
}

function regexCode(pattern: string, where: string, notes: ImportNote[]): string {
  const re = goRegexp(pattern);
  if (!re.ok) {
    notes.push({ kind: "difference", text: `${where}: ${JSON.stringify(pattern)} is not a Go regular expression (${re.reason}); event-exporter never matches it, and neither does the handler` });
    return `NEVER /* ${comment(JSON.stringify(pattern))}: ${comment(re.reason)} */`;
  }
  return new RegExp(re.source, re.flags).toString();
}

function ruleCode(rule: ExporterRule, where: string, converted: Set<string>, notes: ImportNote[]): string {
  const parts: string[] = [];
  for (const field of RULE_FIELDS) {
    const pattern = rule.patterns[field];
    if (pattern !== undefined) parts.push(`${field}: ${regexCode(pattern, `${where}.${field}`, notes)}`);
  }
  if (rule.minCount !== undefined && rule.minCount > 0) parts.push(`minCount: ${rule.minCount}`);
  if ((rule.labels && Object.keys(rule.labels).length) || (rule.annotations && Object.keys(rule.annotations).length)) {
    notes.push({
      kind: "not-converted",
      text: `${where}: rules on the involved object's labels or annotations (event-exporter looks the object up in the API; handlers get only the Event); the handler treats this rule as never matching`,
    });
    parts.push("needsObjectMetadata: true");
  }
  for (const k of rule.unknownKeys) notes.push({ kind: "not-converted", text: `${where}.${k}: not a rule field; event-exporter ignores it too` });
  if (rule.receiver !== undefined) {
    parts.push(`receiver: ${JSON.stringify(rule.receiver)}${converted.has(rule.receiver) ? "" : " /* not converted */"}`);
  }
  return `{ ${parts.join(", ")} }`;
}

function routeCode(route: ExporterRoute, where: string, indent: string, converted: Set<string>, notes: ImportNote[]): string {
  const inner = indent + "  ";
  const rules = (kind: "drop" | "match") =>
    route[kind].length === 0 ? "[]" : `[\n${route[kind].map((r, i) => `${inner}  ${ruleCode(r, `${where}.${kind}[${i}]`, converted, notes)},`).join("\n")}\n${inner}]`;
  const routes = route.routes.length === 0 ? "[]" : `[\n${route.routes.map((r, i) => `${inner}  ${routeCode(r, `${where}.routes[${i}]`, inner + "  ", converted, notes)},`).join("\n")}\n${inner}]`;
  return `{\n${inner}drop: ${rules("drop")},\n${inner}match: ${rules("match")},\n${inner}routes: ${routes},\n${indent}}`;
}

function routeUses(route: ExporterRoute, pred: (r: ExporterRule) => boolean): boolean {
  return route.drop.some(pred) || route.match.some(pred) || route.routes.some((r) => routeUses(r, pred));
}

const ROUTING_CODE = String.raw`// ── event-exporter v0.11 routing (pkg/exporter/route.go and rule.go), evaluated as it does ──

/** A rule: every given field must match (unanchored Go regular expressions) and count >= minCount. */
interface Rule {
  message?: RegExp;
  apiVersion?: RegExp;
  kind?: RegExp;
  namespace?: RegExp;
  reason?: RegExp;
  type?: RegExp;
  component?: RegExp;
  host?: RegExp;
  minCount?: number;
  /** Rules on the involved object's labels or annotations cannot be evaluated by a handler. */
  needsObjectMetadata?: true;
  receiver?: string;
}

interface Route {
  drop: Rule[];
  match: Rule[];
  routes: Route[];
}

function ruleMatches(rule: Rule, event: KubeEvent): boolean {
  if (rule.needsObjectMetadata) return false;
  const fields: Array<[RegExp | undefined, string]> = [
    [rule.message, event.message],
    [rule.apiVersion, event.involvedObject.apiVersion],
    [rule.kind, event.involvedObject.kind],
    [rule.namespace, event.metadata.namespace],
    [rule.reason, event.reason],
    [rule.type, event.type],
    [rule.component, event.source.component],
    [rule.host, event.source.host],
  ];
  return fields.every(([re, value]) => re === undefined || re.test(value)) && event.count >= (rule.minCount ?? 0);
}

/** The receivers event-exporter sends an event to: one entry per matching rule that names one. */
function receiversOf(route: Route, event: KubeEvent, out: string[] = []): string[] {
  if (route.drop.some((rule) => ruleMatches(rule, event))) return out;
  let matchesAll = true;
  for (const rule of route.match) {
    if (!ruleMatches(rule, event)) matchesAll = false;
    else if (rule.receiver !== undefined) out.push(rule.receiver);
  }
  if (matchesAll) for (const child of route.routes) receiversOf(child, event, out);
  return out;
}`;

function header(config: ExporterConfig, notes: ImportNote[], receivers: string[]): string {
  const lines = [
    `Imported by \`edge-alarm import\` from the kubernetes-event-exporter config in ${config.origin}.`,
    `Sends the card${receivers.length === 1 ? "" : "s"} of receiver${receivers.length === 1 ? "" : "s"} ${receivers.map((r) => JSON.stringify(r)).join(", ")} for the events`,
    "event-exporter v0.11 routes there, with the same fields. See docs/handlers.md, \"Importing from event-exporter\".",
  ];
  for (const [kind, title] of [["not-converted", "Not converted"], ["difference", "Differences"], ["todo", "To do"]] as const) {
    const mine = notes.filter((n) => n.kind === kind);
    if (mine.length) lines.push("", `${title}:`, ...mine.map((n) => `- ${comment(n.text)}`));
  }
  return `/**\n${lines.map((l) => (l ? ` * ${l}` : " *")).join("\n")}\n */`;
}

/** Convert an event-exporter config into one handler. Throws nothing for partial configs: see `notes`. */
export function convertExporterConfig(config: ExporterConfig): ImportResult {
  const notes: ImportNote[] = [];
  if (config.usesEnvExpansion) {
    notes.push({ kind: "difference", text: "the config contains `$`: event-exporter replaces $VAR and ${VAR} with its environment (or nothing) before reading it; the import used the text as written, so check those places" });
  }
  for (const [k, v] of Object.entries(config.settings)) {
    notes.push(SETTINGS[k]?.(v) ?? { kind: "not-converted", text: `${k}: not an event-exporter v0.11 setting edge-alarm knows` });
  }
  const feishu = feishuReceivers(config, notes);
  const converted = new Set(feishu.map((f) => f.receiver.name));
  const multiple = feishu.length > 1;

  const taken = new Set<string>();
  const helpers = new Set<HelperName>();
  const cards: string[] = [];
  const dispatch: string[] = [];
  let usesEscape = false;
  let usesTime = false;
  for (const f of feishu) {
    const scope: CardScope = { where: `receiver ${JSON.stringify(f.receiver.name)}`, helpers, notes, usesEscape: false, usesTime: false, scalars: [] };
    const name = functionName(f.receiver.name, taken);
    cards.push(cardFunction(name, f, scope));
    usesEscape ||= scope.usesEscape;
    usesTime ||= scope.usesTime;
    if (scope.scalars.length) {
      notes.push({
        kind: "difference",
        text: `${scope.where}: ${scope.scalars.join(", ")} ${scope.scalars.length === 1 ? "is" : "are"} sent as configured; event-exporter v0.11 sends every non-string layout value as null (its template walk keeps only strings, maps and lists)`,
      });
    }
    const channel = multiple ? `, channel: ${JSON.stringify(f.receiver.name)}` : "";
    dispatch.push(`  ${key(f.receiver.name)}: (event, ctx) => ({ card: ${name}(event, ctx)${channel} }),`);
    if (multiple) notes.push({ kind: "todo", text: `configure a dispatcher channel named ${JSON.stringify(f.receiver.name)} with this receiver's webhook (not copied: it is a secret)` });
  }
  if (feishu.length === 0) notes.push({ kind: "not-converted", text: "no receiver posts a Feishu card, so the handler never alarms" });
  else if (!multiple) notes.push({ kind: "todo", text: `set EDGE_ALARM_FEISHU_WEBHOOK (and EDGE_ALARM_FEISHU_SECRET if the bot signs) to receiver ${JSON.stringify(feishu[0]?.receiver.name)}'s webhook; the URL is not copied: it is a secret` });
  if (usesEscape) {
    notes.push({ kind: "difference", text: "event text in lark_md is escaped (escapeMd): it shows the same characters, but cannot turn into mentions, links or formatting as it can with event-exporter, which inserts it raw" });
  }
  if (usesTime) {
    notes.push({ kind: "difference", text: "times are printed in the dispatcher's timezone (EDGE_ALARM_TIMEZONE) in Go's format; an Event without lastTimestamp (events.k8s.io/v1 reporters) shows its eventTime or creation time where event-exporter printed 0001-01-01 00:00:00 +0000 UTC" });
    notes.push({ kind: "todo", text: `set EDGE_ALARM_TIMEZONE=${config.podTimezone ?? "<the TZ of the event-exporter pod>"} so times read as they did` });
  }
  notes.push({ kind: "difference", text: "when a card is sent (new events, repeats after a restart) is decided by the dispatcher; the handler decides only whether and what" });

  const routeNotes: ImportNote[] = [];
  const route = routeCode(config.route, "route", "", converted, routeNotes);
  notes.push(...routeNotes);
  const needsNever = routeUses(config.route, (r) => Object.values(r.patterns).some((p) => p !== undefined && !goRegexp(p).ok));

  const sdkImports = ["defineHandler", ...(usesEscape ? ["escapeMd"] : []), "type Alarm", "type FeishuCard", "type HandlerContext", "type KubeEvent"];
  const source = [
    header(config, notes, feishu.map((f) => f.receiver.name)),
    `import { ${sdkImports.join(", ")} } from "edge-alarm/sdk";`,
    "",
    ...(needsNever ? ["/** Stands for a pattern Go cannot compile: event-exporter's rule then never matches. */", "const NEVER = /(?!)/;", ""] : []),
    "/** event-exporter's route tree, as configured; see receiversOf below. */",
    `const ROUTE: Route = ${route};`,
    "",
    ...cards.flatMap((c) => [c, ""]),
    "const CARDS: Record<string, (event: KubeEvent, ctx: HandlerContext) => Alarm> = {",
    ...dispatch,
    "};",
    "",
    "export default defineHandler({",
    "  handle(event, ctx) {",
    "    return receiversOf(ROUTE, event).flatMap((receiver) => {",
    "      const card = CARDS[receiver];",
    "      return card ? [card(event, ctx)] : [];",
    "    });",
    "  },",
    "});",
    "",
    ROUTING_CODE,
    ...[...helpers].sort().flatMap((h) => ["", GO_HELPERS[h]]),
    "",
  ].join("\n");
  return { source, notes, receivers: feishu.map((f) => f.receiver.name) };
}
