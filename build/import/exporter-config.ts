/**
 * @module Reading a kubernetes-event-exporter configuration: the `config.yaml` itself, a
 * ConfigMap holding it, or a whole multi-document manifest (as in the setup sites run today).
 * Only the shape is checked here; what it means is decided in convert.ts.
 */
import { parseAllDocuments } from "yaml";
import { UserError } from "../errors.ts";

/** Rule fields compared as Go regular expressions, and the event field each one reads (v0.11 rule.go). */
export const RULE_FIELDS = ["message", "apiVersion", "kind", "namespace", "reason", "type", "component", "host"] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

export interface ExporterRule {
  patterns: Partial<Record<RuleField, string>>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  minCount?: number;
  receiver?: string;
  /** Keys event-exporter does not know; its YAML reader ignores them. */
  unknownKeys: string[];
}

export interface ExporterRoute {
  drop: ExporterRule[];
  match: ExporterRule[];
  routes: ExporterRoute[];
}

export interface ExporterReceiver {
  name: string;
  /** The sink kind: webhook, stdout, slack, … (the receiver's one key besides name). */
  kind: string;
  /** The sink's settings, e.g. { endpoint, headers, layout } for a webhook. */
  settings: Record<string, unknown>;
}

export interface ExporterConfig {
  route: ExporterRoute;
  receivers: ExporterReceiver[];
  /** Top-level keys besides route and receivers (logLevel, namespace, …) and their values. */
  settings: Record<string, unknown>;
  /** Where in FILE the config was found, e.g. `ConfigMap monitoring/event-exporter-cfg, key config.yaml`. */
  origin: string;
  /** True when the text has `$`: event-exporter expands $VAR and ${VAR} from its environment first. */
  usesEnvExpansion: boolean;
  /** The TZ of an event-exporter Deployment in the same file: the zone its times were printed in. */
  podTimezone?: string;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** yaml.v2 maps a Go field without a tag to its lower-cased name, so both spellings are seen. */
const KEY_ALIASES: Record<string, string> = { apiversion: "apiVersion", mincount: "minCount" };

function stringMap(v: unknown, where: string): Record<string, string> {
  if (!isObject(v)) throw new UserError(`${where} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = String(val);
  return out;
}

function readRule(v: unknown, where: string): ExporterRule {
  if (!isObject(v)) throw new UserError(`${where} must be a map (a rule), got ${JSON.stringify(v)}`);
  const rule: ExporterRule = { patterns: {}, unknownKeys: [] };
  for (const [rawKey, value] of Object.entries(v)) {
    const key = KEY_ALIASES[rawKey] ?? rawKey;
    if ((RULE_FIELDS as readonly string[]).includes(key)) {
      if (value !== null && value !== "") rule.patterns[key as RuleField] = String(value);
    } else if (key === "labels") rule.labels = stringMap(value, `${where}.labels`);
    else if (key === "annotations") rule.annotations = stringMap(value, `${where}.annotations`);
    else if (key === "minCount") rule.minCount = Number(value);
    else if (key === "receiver") rule.receiver = String(value);
    else rule.unknownKeys.push(rawKey);
  }
  return rule;
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new UserError(`${where} must be a list`);
  return v;
}

function readRoute(v: unknown, where: string): ExporterRoute {
  if (v === undefined || v === null) return { drop: [], match: [], routes: [] };
  if (!isObject(v)) throw new UserError(`${where} must be a map with drop, match and routes`);
  return {
    drop: list(v.drop, `${where}.drop`).map((r, i) => readRule(r, `${where}.drop[${i}]`)),
    match: list(v.match, `${where}.match`).map((r, i) => readRule(r, `${where}.match[${i}]`)),
    routes: list(v.routes, `${where}.routes`).map((r, i) => readRoute(r, `${where}.routes[${i}]`)),
  };
}

function readReceiver(v: unknown, i: number): ExporterReceiver {
  if (!isObject(v) || typeof v.name !== "string") throw new UserError(`receivers[${i}] must be a map with a name`);
  const kinds = Object.keys(v).filter((k) => k !== "name");
  if (kinds.length !== 1) throw new UserError(`receiver ${v.name} must have exactly one sink (webhook, stdout, …), found ${kinds.length ? kinds.join(", ") : "none"}`);
  const kind = kinds[0] ?? "";
  const settings = v[kind];
  return { name: v.name, kind, settings: isObject(settings) ? settings : {} };
}

function looksLikeConfig(v: unknown): v is Json {
  return isObject(v) && ("route" in v || "receivers" in v);
}

function fromText(text: string, origin: string): ExporterConfig {
  let doc: unknown;
  try {
    doc = parseAllDocuments(text)[0]?.toJS();
  } catch (err) {
    throw new UserError(`${origin}: not valid YAML: ${(err as Error).message}`);
  }
  if (!looksLikeConfig(doc)) throw new UserError(`${origin} has no route or receivers: not an event-exporter config`);
  return fromObject(doc, origin, text.includes("$"));
}

function fromObject(doc: Json, origin: string, usesEnvExpansion: boolean): ExporterConfig {
  const { route, receivers, ...settings } = doc;
  return {
    route: readRoute(route, "route"),
    receivers: list(receivers, "receivers").map(readReceiver),
    settings,
    origin,
    usesEnvExpansion,
  };
}

/**
 * The event-exporter config in `text` (the contents of `file`): a config.yaml, or the ConfigMap
 * that holds it, alone or among other manifests. Throws a UserError saying what was found
 * instead.
 */
export function readExporterConfig(text: string, file: string): ExporterConfig {
  let docs;
  try {
    docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS() as unknown;
    });
  } catch (err) {
    throw new UserError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  const found: ExporterConfig[] = [];
  for (const doc of docs) {
    if (!isObject(doc)) continue;
    if (doc.kind === "ConfigMap" && isObject(doc.data)) {
      const meta = isObject(doc.metadata) ? doc.metadata : {};
      const name = `${typeof meta.namespace === "string" ? `${meta.namespace}/` : ""}${String(meta.name ?? "?")}`;
      for (const [key, value] of Object.entries(doc.data)) {
        if (typeof value !== "string" || !/\.ya?ml$/.test(key)) continue;
        const origin = `${file}: ConfigMap ${name}, key ${key}`;
        let inner: unknown;
        try {
          inner = parseAllDocuments(value)[0]?.toJS();
        } catch {
          continue; // not YAML: some other file in the ConfigMap
        }
        if (looksLikeConfig(inner)) found.push(fromText(value, origin));
      }
    } else if (looksLikeConfig(doc)) {
      found.push(fromObject(doc, file, text.includes("$")));
    }
  }
  if (found.length === 0) {
    throw new UserError(`${file} holds no kubernetes-event-exporter config (a config.yaml with route and receivers, or a ConfigMap holding one)`);
  }
  if (found.length > 1) {
    throw new UserError(`${file} holds ${found.length} event-exporter configs (${found.map((f) => f.origin).join("; ")}); split the file and import one at a time`);
  }
  const [config] = found;
  if (!config) throw new Error("unreachable");
  const podTimezone = docs.map(deploymentTimezone).find((tz) => tz !== undefined);
  return podTimezone === undefined ? config : { ...config, podTimezone };
}

/** TZ from the env of an event-exporter Deployment's containers, if `doc` is one. */
function deploymentTimezone(doc: unknown): string | undefined {
  if (!isObject(doc) || doc.kind !== "Deployment") return undefined;
  const spec = isObject(doc.spec) && isObject(doc.spec.template) && isObject(doc.spec.template.spec) ? doc.spec.template.spec : {};
  for (const container of list(spec.containers, "containers")) {
    if (!isObject(container) || !String(container.image ?? "").includes("event-exporter")) continue;
    for (const env of list(container.env, "env")) {
      if (isObject(env) && env.name === "TZ" && typeof env.value === "string") return env.value;
    }
  }
  return undefined;
}
