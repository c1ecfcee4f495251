/**
 * The Kubernetes Event as handlers see it: the core/v1 shape of `kubectl get events -o json`,
 * with every field present. `normalizeEvent` also accepts events.k8s.io/v1 objects, the
 * internal-type (capitalised) objects of old `kubectl cluster-info dump`, and objects whose
 * timestamps are `Date`s (client-node list results), so handlers never meet those variants.
 */

export interface ObjectReference {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  apiVersion: string;
  fieldPath: string;
}

export interface KubeEvent {
  apiVersion: "v1";
  kind: "Event";
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  involvedObject: ObjectReference;
  /** Normally "Normal" or "Warning". */
  type: string;
  reason: string;
  message: string;
  source: { component: string; host: string };
  /** Occurrences so far: `series.count`, else `count`, else `deprecatedCount`, else 1. */
  count: number;
  /** RFC 3339. Never empty: falls back through eventTime and creationTimestamp. */
  firstTimestamp: string;
  /** RFC 3339. Never empty: `series.lastObservedTime`, lastTimestamp, eventTime, creationTimestamp. */
  lastTimestamp: string;
  eventTime: string | null;
  series: { count: number; lastObservedTime: string } | null;
  action: string;
  reportingComponent: string;
  reportingInstance: string;
  related: ObjectReference | null;
}

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Old kubectl dumps use Go field names (`InvolvedObject`, `UID`, `APIVersion`). */
function camelKey(key: string): string {
  if (key === "UID") return "uid";
  if (key === "APIVersion") return "apiVersion";
  return key.charAt(0).toLowerCase() + key.slice(1);
}

const NESTED = new Set(["involvedObject", "regarding", "related", "source", "deprecatedSource", "series"]);

/** Camel-case the top level and the nested references; label and annotation keys stay as they are. */
function camelize(v: Raw): Raw {
  const out: Raw = {};
  for (const [k, val] of Object.entries(v)) {
    const key = camelKey(k);
    if (NESTED.has(key) && isObject(val)) {
      const inner: Raw = {};
      for (const [ik, iv] of Object.entries(val)) inner[camelKey(ik)] = iv;
      out[key] = inner;
    } else out[key] = val;
  }
  return out;
}

function isDate(v: unknown): v is Date {
  return typeof v === "object" && v !== null && typeof (v as Date).toISOString === "function";
}

/** A timestamp as RFC 3339 text; Dates print without milliseconds when they have none, like the API. */
function time(v: unknown): string {
  if (typeof v === "string") return v;
  if (isDate(v)) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) return "";
    const iso = v.toISOString();
    return ms % 1000 === 0 ? iso.replace(".000Z", "Z") : iso;
  }
  return "";
}

function str(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, val] of Object.entries(v)) if (typeof val === "string") out[k] = val;
  return out;
}

function reference(v: unknown): ObjectReference {
  const r = isObject(v) ? v : {};
  return {
    kind: str(r.kind),
    namespace: str(r.namespace),
    name: str(r.name),
    uid: str(r.uid),
    apiVersion: str(r.apiVersion),
    fieldPath: str(r.fieldPath),
  };
}

function first(...values: string[]): string {
  for (const v of values) if (v) return v;
  return "";
}

/** True when the object looks like an Event of any supported shape. */
export function looksLikeEvent(raw: unknown): boolean {
  if (!isObject(raw)) return false;
  if (raw.kind === "Event") return true;
  const r = camelize(raw);
  return typeof r.reason === "string" && (typeof r.type === "string" || isObject(r.involvedObject) || isObject(r.regarding));
}

/**
 * Fill every field of a KubeEvent from any supported shape. Missing times fall back along the
 * chains documented on the fields, ending at `fallbackTime` (the time the event was received).
 */
export function normalizeEvent(raw: unknown, fallbackTime = ""): KubeEvent {
  const e = camelize(isObject(raw) ? raw : {});
  // Flattened metadata (old dumps) and the reduced insights schema keep name/namespace at top level.
  const meta = isObject(e.metadata) ? e.metadata : e;
  const series = isObject(e.series) ? e.series : null;
  const source = isObject(e.source) ? e.source : isObject(e.deprecatedSource) ? e.deprecatedSource : {};
  const created = time(meta.creationTimestamp);
  const eventTime = time(e.eventTime) || null;
  const seriesLast = series ? time(series.lastObservedTime) : "";
  const involved = reference(e.involvedObject ?? e.regarding);
  const namespace = first(str(meta.namespace), involved.namespace);
  const count =
    num(series?.count) ?? num(e.count) ?? num(e.deprecatedCount) ?? 1;
  const lastTimestamp = first(
    seriesLast,
    time(e.lastTimestamp),
    time(e.deprecatedLastTimestamp),
    eventTime ?? "",
    created,
    fallbackTime,
  );
  const firstTimestamp = first(
    time(e.firstTimestamp),
    time(e.deprecatedFirstTimestamp),
    eventTime ?? "",
    created,
    lastTimestamp,
  );
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: str(meta.name),
      namespace,
      uid: str(meta.uid),
      resourceVersion: str(meta.resourceVersion),
      creationTimestamp: first(created, firstTimestamp),
      labels: stringMap(meta.labels),
      annotations: stringMap(meta.annotations),
    },
    involvedObject: involved,
    type: str(e.type),
    reason: str(e.reason),
    message: str(e.message ?? e.note),
    source: {
      component: first(str(source.component), str(e.reportingController), str(e.reportingComponent)),
      host: str(source.host),
    },
    count,
    firstTimestamp,
    lastTimestamp,
    eventTime,
    series: series ? { count: num(series.count) ?? count, lastObservedTime: first(seriesLast, lastTimestamp) } : null,
    action: str(e.action),
    reportingComponent: first(str(e.reportingComponent), str(e.reportingController)),
    reportingInstance: str(e.reportingInstance),
    related: isObject(e.related) ? reference(e.related) : null,
  };
}
