/**
 * @module The handlers ConfigMap format, shared by `edge-alarm build` (which writes it) and the
 * dispatcher and `replay --bundle` (which read it). Each handler bundle is a `<name>.js` key
 * holding plain JavaScript; `manifest.json` lists every bundle with its sha256, so a reader can
 * tell a built bundle from one edited by hand in the cluster.
 */
import { createHash } from "node:crypto";

export const DEFAULT_CONFIGMAP_NAME = "edge-alarm-handlers";
export const DEFAULT_CONFIGMAP_NAMESPACE = "monitoring";
export const CONFIGMAP_LABELS: Readonly<Record<string, string>> = Object.freeze({
  "app.kubernetes.io/name": "edge-alarm",
  "app.kubernetes.io/component": "handlers",
});

export const MANIFEST_KEY = "manifest.json";
export const BUNDLE_KEY_SUFFIX = ".js";

/** Handler names become ConfigMap keys, log fields and metric labels, so they are DNS labels. */
const HANDLER_NAME = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const HANDLER_NAME_MAX = 63;

export interface ManifestEntry {
  name: string;
  /** The `data` key holding the bundle: `<name>.js`. */
  key: string;
  /** Hex sha256 of the bundle's UTF-8 text. */
  sha256: string;
  bytes: number;
}

export interface HandlersManifest {
  sdkVersion: string;
  /** RFC 3339 build time. */
  builtAt: string;
  handlers: ManifestEntry[];
}

/** A handler bundle read back from a ConfigMap, its hash recomputed from the text. */
export interface HandlerBundleSource {
  name: string;
  code: string;
  sha256: string;
}

export interface ParsedHandlersConfigMap {
  /** Undefined when the ConfigMap has no (valid) manifest.json. */
  manifest: HandlersManifest | undefined;
  /** Only the bundles that passed every check, sorted by name. */
  bundles: HandlerBundleSource[];
  /** One line per problem; a non-empty list means some bundle was left out or the manifest is off. */
  problems: string[];
}

export function bundleKey(name: string): string {
  return `${name}${BUNDLE_KEY_SUFFIX}`;
}

/** Why `name` cannot be a handler name, or undefined when it can. */
export function handlerNameProblem(name: string): string | undefined {
  if (name.length > HANDLER_NAME_MAX) return `is longer than ${HANDLER_NAME_MAX} characters`;
  if (!HANDLER_NAME.test(name)) {
    return "must be lowercase letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isManifestEntry(v: unknown): v is ManifestEntry {
  return (
    isRecord(v) &&
    typeof v.name === "string" &&
    typeof v.key === "string" &&
    typeof v.sha256 === "string" &&
    typeof v.bytes === "number"
  );
}

function parseManifest(text: string, problems: string[]): HandlersManifest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    problems.push(`${MANIFEST_KEY} is not JSON (${(err as Error).message}); reading every *.js key as a handler`);
    return undefined;
  }
  if (
    isRecord(value) &&
    typeof value.sdkVersion === "string" &&
    typeof value.builtAt === "string" &&
    Array.isArray(value.handlers) &&
    value.handlers.every(isManifestEntry)
  ) {
    return { sdkVersion: value.sdkVersion, builtAt: value.builtAt, handlers: value.handlers };
  }
  problems.push(
    `${MANIFEST_KEY} does not have the shape {sdkVersion, builtAt, handlers: [{name, key, sha256, bytes}]}; reading every *.js key as a handler`,
  );
  return undefined;
}

/** The `*.js` keys of `data`, as handler names; bad names are reported and skipped. */
function bundleKeys(data: Record<string, unknown>, problems: string[]): Map<string, string> {
  const byName = new Map<string, string>();
  for (const [key, value] of Object.entries(data)) {
    if (!key.endsWith(BUNDLE_KEY_SUFFIX)) continue;
    const name = key.slice(0, -BUNDLE_KEY_SUFFIX.length);
    const bad = handlerNameProblem(name);
    if (bad) problems.push(`data key ${key}: handler name "${name}" ${bad}; skipped`);
    else if (typeof value !== "string") problems.push(`data key ${key} is not a string; skipped`);
    else byName.set(name, value);
  }
  return byName;
}

/**
 * Read a handlers ConfigMap (the parsed object, e.g. from the API or `YAML.parse`). With a
 * manifest, a bundle is kept only if the manifest lists it and its sha256 matches, so a bundle
 * edited in the cluster is reported instead of run. Without a manifest every `*.js` key is a
 * handler. The caller decides whether problems are fatal (the dispatcher keeps the running set).
 */
export function parseHandlersConfigMap(obj: unknown): ParsedHandlersConfigMap {
  const problems: string[] = [];
  if (!isRecord(obj)) return { manifest: undefined, bundles: [], problems: ["not a ConfigMap object"] };
  if (obj.kind !== undefined && obj.kind !== "ConfigMap") problems.push(`kind is ${String(obj.kind)}, expected ConfigMap`);
  if (!isRecord(obj.data)) {
    problems.push("the ConfigMap has no data");
    return { manifest: undefined, bundles: [], problems };
  }
  const data = obj.data;
  const codeByName = bundleKeys(data, problems);
  const manifestText = data[MANIFEST_KEY];
  const manifest = typeof manifestText === "string" ? parseManifest(manifestText, problems) : undefined;

  const bundles: HandlerBundleSource[] = [];
  if (manifest === undefined) {
    for (const [name, code] of codeByName) bundles.push({ name, code, sha256: sha256Hex(code) });
  } else {
    const listed = new Set<string>();
    for (const entry of manifest.handlers) {
      if (listed.has(entry.name)) {
        problems.push(`${MANIFEST_KEY} lists "${entry.name}" twice; the first entry is used`);
        continue;
      }
      listed.add(entry.name);
      if (entry.key !== bundleKey(entry.name)) {
        problems.push(`${MANIFEST_KEY}: handler "${entry.name}" has key "${entry.key}", expected "${bundleKey(entry.name)}"`);
      }
      const code = codeByName.get(entry.name);
      if (code === undefined) {
        problems.push(`${MANIFEST_KEY} lists "${entry.name}" but data has no usable key ${bundleKey(entry.name)}`);
        continue;
      }
      const sha256 = sha256Hex(code);
      if (sha256 !== entry.sha256) {
        problems.push(
          `${bundleKey(entry.name)}: sha256 ${sha256} does not match the manifest (${entry.sha256}); the bundle was changed after the build, skipped`,
        );
        continue;
      }
      bundles.push({ name: entry.name, code, sha256 });
    }
    for (const name of codeByName.keys()) {
      if (!listed.has(name)) problems.push(`${bundleKey(name)} is not listed in ${MANIFEST_KEY}; skipped`);
    }
  }
  bundles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { manifest, bundles, problems };
}
