/**
 * Storm material for the grouping tests and the bench: a model of client-go's legacy event
 * recorder (dedup, aggregation into "(combined from similar events)", the per-object spam filter),
 * the reconstruction of a capture's update stream from its counts, synthetic storms built from
 * the real message formats (../shared/docs/event-reasons.md), today's event-exporter card as the
 * baseline, and the coverage and rate checks.
 */
import { readFileSync } from "node:fs";
import { createLogger, type Logger } from "../../../dispatcher/log.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import { readEvents, type InputItem } from "../../../dispatcher/replay/read-events.ts";
import { replay, type ReplaySummary } from "../../../dispatcher/replay/replay.ts";
import { withinLimits } from "../../../dispatcher/grouping/send-gate.ts";
import type { GroupingSettings } from "../../../dispatcher/grouping/settings.ts";
import { formatTime } from "../../../dispatcher/time-format.ts";
import defaultHandler from "../../../handlers/default.ts";
import { normalizeEvent, type KubeEvent } from "../../../sdk/index.ts";
import { plainHost } from "../../plain-host.ts";
import { capture } from "../../shared-data.ts";

export const CLUSTER = "XXX IoT K3S cluster";
export const TIMEZONE = "Asia/Shanghai";

// ---------------------------------------------------------------- client-go recorder model

export interface Occurrence {
  at: number;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  fieldPath?: string;
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  component: string;
  host?: string;
}

/** events_cache.go constants. */
const SPAM_BURST = 25;
const SPAM_REFILL_MS = 300_000;
const AGGREGATE_MAX = 10;
const AGGREGATE_WINDOW_MS = 600_000;
const COMBINED = "(combined from similar events): ";

interface Written {
  name: string;
  uid: string;
  count: number;
  first: number;
  message: string;
  created: boolean;
}

function objectKey(o: Occurrence): string {
  return [o.component, o.host ?? "", o.kind, o.namespace, o.name, o.uid ?? ""].join("|");
}

function eventObject(o: Occurrence, w: Written, at: number): Record<string, unknown> {
  return {
    apiVersion: "v1", kind: "Event",
    metadata: { name: w.name, namespace: o.namespace || "default", uid: w.uid, resourceVersion: String(at) },
    involvedObject: { kind: o.kind, namespace: o.namespace, name: o.name, uid: o.uid ?? `${o.name}-uid`, apiVersion: "v1", ...(o.fieldPath ? { fieldPath: o.fieldPath } : {}) },
    reason: o.reason, message: w.message, type: o.type,
    source: { component: o.component, ...(o.host ? { host: o.host } : {}) },
    count: w.count,
    firstTimestamp: new Date(w.first).toISOString().replace(".000Z", "Z"),
    lastTimestamp: new Date(at).toISOString().replace(".000Z", "Z"),
  };
}

/**
 * What a watch sees when client-go's legacy recorder records these occurrences: aggregate (10
 * distinct messages per object and reason in 10 min → one combined event), count repeats into
 * one event object, and let writes through the per-object spam filter (25, then one per 5 min);
 * filtered repeats still raise the count the next write carries.
 */
export function recordOccurrences(occurrences: readonly Occurrence[], spamFilter = true): InputItem[] {
  const sorted = [...occurrences].sort((a, b) => a.at - b.at);
  const events = new Map<string, Written>();
  const aggregates = new Map<string, { last: number; messages: Set<string> }>();
  const buckets = new Map<string, { tokens: number; at: number }>();
  const out: InputItem[] = [];
  let serial = 0;
  for (const o of sorted) {
    const aggKey = [objectKey(o), o.type, o.reason].join("|");
    let agg = aggregates.get(aggKey);
    if (!agg || o.at - agg.last > AGGREGATE_WINDOW_MS) aggregates.set(aggKey, (agg = { last: o.at, messages: new Set() }));
    agg.last = o.at;
    agg.messages.add(o.message);
    const combined = agg.messages.size >= AGGREGATE_MAX;
    const key = combined ? `${aggKey}|combined` : [aggKey, o.fieldPath ?? "", o.message].join("|");
    let w = events.get(key);
    if (!w) {
      serial++;
      events.set(key, (w = { name: `${o.name}.${(o.at * 1000 + serial).toString(16)}`, uid: `ev-${serial}`, count: 0, first: o.at, message: combined ? COMBINED + o.message : o.message, created: false }));
    }
    w.count++;
    if (spamFilter) {
      const bk = objectKey(o);
      const b = buckets.get(bk) ?? { tokens: SPAM_BURST, at: o.at };
      b.tokens = Math.min(SPAM_BURST, b.tokens + (o.at - b.at) / SPAM_REFILL_MS);
      b.at = o.at;
      buckets.set(bk, b);
      if (b.tokens < 1) continue;
      b.tokens -= 1;
    }
    out.push({ type: w.created ? "MODIFIED" : "ADDED", object: eventObject(o, w, o.at), where: `synthetic:${out.length + 1}` });
    w.created = true;
  }
  return out;
}

/**
 * The update stream behind a capture: each captured event has `count` occurrences between its
 * first and last timestamp; spread them evenly and pass them through the spam filter of their
 * object (the capture's final state was written, so the last occurrence always is).
 */
export function reconstructUpdates(items: readonly InputItem[]): InputItem[] {
  type Occ = { at: number; event: KubeEvent; n: number; final: boolean; bucket: string };
  const occs: Occ[] = [];
  for (const item of items) {
    if (item.type === "DELETED") continue;
    const e = normalizeEvent(item.object);
    const first = Date.parse(e.firstTimestamp);
    const last = Date.parse(e.lastTimestamp);
    const bucket = [e.source.component, e.source.host, e.involvedObject.kind, e.involvedObject.namespace, e.involvedObject.name, e.involvedObject.uid].join("|");
    for (let n = 1; n <= e.count; n++) {
      const at = e.count === 1 ? last : Math.round(first + ((last - first) * (n - 1)) / (e.count - 1));
      occs.push({ at, event: e, n, final: n === e.count, bucket });
    }
  }
  occs.sort((a, b) => a.at - b.at || a.n - b.n);
  const buckets = new Map<string, { tokens: number; at: number }>();
  const started = new Set<KubeEvent>();
  const out: InputItem[] = [];
  for (const o of occs) {
    const b = buckets.get(o.bucket) ?? { tokens: SPAM_BURST, at: o.at };
    b.tokens = Math.min(SPAM_BURST, b.tokens + (o.at - b.at) / SPAM_REFILL_MS);
    b.at = o.at;
    buckets.set(o.bucket, b);
    if (b.tokens >= 1) b.tokens -= 1;
    else if (!o.final) continue;
    const iso = new Date(o.at).toISOString().replace(".000Z", "Z");
    const object = { ...o.event, count: o.n, lastTimestamp: iso } as unknown as Record<string, unknown>;
    out.push({ type: started.has(o.event) ? "MODIFIED" : "ADDED", object, where: `reconstructed:${out.length + 1}` });
    started.add(o.event);
  }
  return out;
}

// ---------------------------------------------------------------- storms

export interface Storm {
  name: string;
  items: InputItem[];
  /** What the numbers are about, for the bench's table. */
  note: string;
}

export function readCaptureItems(...files: string[]): InputItem[] {
  return files.flatMap((f) => readEvents(readFileSync(capture(f), "utf8"), f).items);
}

export function nodeDownCapture(): InputItem[] {
  return readCaptureItems("tonychengtw-k8s-ha/default/events.json", "tonychengtw-k8s-ha/kube-system/events.json");
}

export function outOfCpuCapture(): InputItem[] {
  return readCaptureItems("erwee402-multi-k8s/default/events.json", "erwee402-multi-k8s/kube-system/events.json");
}

/** A small deterministic generator (an LCG is plenty for picking names), so synthetic storms are the same on every run. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32;
}

const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
function suffix(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

interface PodSpec {
  namespace: string;
  name: string;
  node: string;
  container: string;
  image: string;
  daemon: boolean;
}

function edgePods(rand: () => number, nodes: string[], perNode: number): PodSpec[] {
  const apps = ["mqtt-bridge", "telemetry", "modbus-gw", "video-relay", "ota-agent", "rules-engine", "historian", "opcua-gw"];
  const pods: PodSpec[] = [];
  for (const app of apps) {
    const hash = suffix(rand, 10);
    for (let r = 0; r < Math.ceil((perNode * nodes.length - 2 * nodes.length) / apps.length); r++) {
      pods.push({ namespace: "iot", name: `${app}-${hash}-${suffix(rand, 5)}`, node: nodes[pods.length % nodes.length]!, container: app, image: `registry.edge.local:5000/iot/${app}:v2.4.1`, daemon: false });
    }
  }
  for (const ds of ["node-exporter", "log-shipper"]) {
    for (const node of nodes) pods.push({ namespace: "kube-system", name: `${ds}-${suffix(rand, 5)}`, node, container: ds, image: `registry.edge.local:5000/infra/${ds}:1.8.0`, daemon: true });
  }
  return pods;
}

/** §4.2: the registry is unreachable over a dead link; every pod's pull fails and backs off for 30 min. */
export function registryStorm(): Storm {
  const rand = prng(42);
  const start = Date.parse("2026-11-20T06:00:00Z");
  const pods = edgePods(rand, ["edge-1", "edge-2", "edge-3"], 10);
  const occ: Occurrence[] = [];
  for (const p of pods) {
    const base = { kind: "Pod", namespace: p.namespace, name: p.name, uid: `${p.name}-uid`, fieldPath: `spec.containers{${p.container}}`, component: "kubelet", host: p.node };
    const pullError = `Failed to pull image "${p.image}": rpc error: code = Unknown desc = failed to pull and unpack image "${p.image}": failed to resolve reference "${p.image}": failed to do request: Head "https://registry.edge.local:5000/v2/${p.image.split("/").slice(1).join("/").replace(/:[^:]*$/, "")}/manifests/${p.image.split(":").at(-1)}": dial tcp 10.20.0.5:5000: i/o timeout`;
    let t = start + Math.floor(rand() * 20_000);
    let backoff = 10_000;
    let nextPull = t;
    while (t < start + 30 * 60_000) {
      if (t >= nextPull) {
        occ.push({ ...base, at: t, reason: "Pulling", message: `Pulling image "${p.image}"`, type: "Normal" });
        occ.push({ ...base, at: t + 5_000, reason: "Failed", message: pullError, type: "Warning" });
        occ.push({ ...base, at: t + 5_000, reason: "Failed", message: "Error: ErrImagePull", type: "Warning" });
        nextPull = t + 5_000 + backoff;
        backoff = Math.min(300_000, backoff * 2);
        t += 5_000;
      } else {
        occ.push({ ...base, at: t, reason: "BackOff", message: `Back-off pulling image "${p.image}"`, type: "Normal" });
        occ.push({ ...base, at: t, reason: "Failed", message: "Error: ImagePullBackOff", type: "Warning" });
      }
      t += 10_000 + Math.floor(rand() * 7_000); // pod syncs observed every ≈13.6 s
    }
  }
  return { name: "ErrImagePull, dead registry (synthetic)", items: recordOccurrences(occ), note: `${pods.length} pods on 3 nodes, 30 min, client-go recorder model` };
}

/** §4.4: one container crash-looping; its BackOff event is bumped every 15 s for an hour. */
export function crashLoopStorm(): Storm {
  const start = Date.parse("2026-11-20T06:00:00Z");
  const pod = "telemetry-6d9f7c5b8b-x2k4p";
  const base = { kind: "Pod", namespace: "iot", name: pod, uid: "3f1c2a9e-5b7d-4c1e-9a2f-8d6e4b3c2a10", fieldPath: "spec.containers{telemetry}", component: "kubelet", host: "edge-1" };
  const occ: Occurrence[] = [];
  for (let t = start; t < start + 3_600_000; t += 15_000) {
    occ.push({ ...base, at: t, reason: "BackOff", type: "Warning", message: `Back-off restarting failed container telemetry in pod ${pod}_iot(${base.uid})` });
    if ((t - start) % 300_000 === 0) {
      occ.push({ ...base, at: t + 1, reason: "Pulled", type: "Normal", message: `Container image "registry.edge.local:5000/iot/telemetry:v2.4.1" already present on machine` });
      occ.push({ ...base, at: t + 2, reason: "Created", type: "Normal", message: "Created container: telemetry" });
      occ.push({ ...base, at: t + 3, reason: "Started", type: "Normal", message: "Started container telemetry" });
    }
  }
  // As the issue describes it: the watch sees every bump (no spam filter in between).
  return { name: "crash loop, bump every 15 s for 1 h (synthetic)", items: recordOccurrences(occ, false), note: "1 pod, 240 BackOff bumps" };
}

/** §4.1: node edge-2 loses power for 20 min: every pod on it, evictions, pending replacements, reboot. */
export function nodeNotReadyStorm(): Storm {
  const rand = prng(7);
  const start = Date.parse("2026-11-20T06:00:00Z");
  const pods = edgePods(rand, ["edge-1", "edge-2"], 16).filter((p) => p.node === "edge-2");
  const occ: Occurrence[] = [];
  const nodeBase = { kind: "Node", namespace: "", name: "edge-2", uid: "6c1d7e2a-0b9f-4e3d-8a51-2f7c9e4d1b08" };
  occ.push({ ...nodeBase, at: start, reason: "NodeNotReady", type: "Normal", message: "Node edge-2 status is now: NodeNotReady", component: "node-controller" });
  pods.forEach((p, i) => {
    occ.push({ kind: "Pod", namespace: p.namespace, name: p.name, uid: `${p.name}-uid`, at: start + 20 + i * 3, reason: "NodeNotReady", type: "Warning", message: "Node is not ready", component: "node-controller" });
  });
  const evicted = pods.filter((p) => !p.daemon);
  evicted.forEach((p, i) => {
    const at = start + 300_000 + i * 40;
    occ.push({ kind: "Pod", namespace: p.namespace, name: p.name, uid: `${p.name}-uid`, at, reason: "TaintManagerEviction", type: "Normal", message: `Marking for deletion Pod ${p.namespace}/${p.name}`, component: "taint-eviction-controller" });
    const replacement = `${p.name.slice(0, -5)}${suffix(rand, 5)}`;
    // Half the replacements fit on edge-1; the rest stay pending until edge-2 is back.
    const pending = i % 2 === 0;
    for (let t = at + 500; t < start + 20 * 60_000; t += pending ? 16_700 : Infinity) {
      if (pending) {
        occ.push({ kind: "Pod", namespace: p.namespace, name: replacement, uid: `${replacement}-uid`, at: t, reason: "FailedScheduling", type: "Warning", component: "default-scheduler",
          message: "0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling." });
      } else break;
    }
  });
  const back = start + 20 * 60_000;
  const bootId = "0e6f3b1c-94a2-4d7e-b5c8-7a1d2e9f4c36";
  occ.push({ ...nodeBase, at: back, reason: "Starting", type: "Normal", message: "Starting kubelet.", component: "kubelet", host: "edge-2" });
  occ.push({ ...nodeBase, at: back + 1_000, reason: "Rebooted", type: "Warning", message: `Node edge-2 has been rebooted, boot id: ${bootId}`, component: "kubelet", host: "edge-2" });
  for (const r of ["NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"]) {
    occ.push({ ...nodeBase, at: back + 2_000, reason: r, type: "Normal", message: `Node edge-2 status is now: ${r}`, component: "kubelet", host: "edge-2" });
  }
  return { name: "node NotReady, every pod on it (synthetic)", items: recordOccurrences(occ), note: `${pods.length} pods on edge-2, 20 min outage, evictions and pending replacements` };
}

// ---------------------------------------------------------------- baseline and checks

const goJson = (value: unknown): string =>
  // Go's encoding/json escapes <, > and & in strings; the baseline is byte-exact to what event-exporter sends.
  JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");

/** Today's card: kubernetes-event-exporter v0.11 with the layout of ../shared/docs/today-setup.md. */
export function baselineBody(e: KubeEvent, timezone = TIMEZONE): string {
  return goJson({
    msg_type: "interactive",
    card: {
      // v0.11 renders every layout leaf as a string template; non-string leaves such as `true` come out as null (../shared/docs/peers.md §1).
      config: { wide_screen_mode: null, enable_forward: null },
      header: { title: { tag: "plain_text", content: "XXX IoT K3S cluster alarm" }, template: "red" },
      elements: [{
        tag: "div",
        text: {
          tag: "lark_md",
          content: `**EventType:** ${e.type}\n**EventKind:** ${e.involvedObject.kind}\n**EventReason:** ${e.reason}\n**EventTime:** ${formatTime(e.lastTimestamp, timezone, "go")}\n**EventMessage:** ${e.message}`,
        },
      }],
    },
  });
}

export interface Baseline {
  posts: number;
  bytes: number;
}

/** One card per Warning event update (ADDED or MODIFIED), as event-exporter v0.11 sends. */
export function baseline(items: readonly InputItem[]): Baseline {
  let posts = 0;
  let bytes = 0;
  for (const item of items) {
    if (item.type === "DELETED") continue;
    const e = normalizeEvent(item.object);
    if (e.type !== "Warning") continue;
    posts++;
    bytes += Buffer.byteLength(baselineBody(e));
  }
  return { posts, bytes };
}

/** All text a card shows, with lark_md entities decoded. */
export function cardText(d: Delivery): string {
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (k === "content" && typeof v === "string") texts.push(v.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
        else walk(v);
      }
    }
  };
  walk(d.body.card);
  return texts.join("\n");
}

export interface Coverage {
  distinct: number;
  named: number;
  missing: string[];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Every distinct (object, reason) of the Warning events is named by some card: the object's name and the reason on one card. */
export function coverage(items: readonly InputItem[], deliveries: readonly Delivery[]): Coverage {
  const wanted = new Map<string, { name: string; reason: string }>();
  for (const item of items) {
    if (item.type === "DELETED") continue;
    const e = normalizeEvent(item.object);
    if (e.type !== "Warning") continue;
    const o = e.involvedObject;
    wanted.set([o.kind, o.namespace || e.metadata.namespace, o.name, e.reason].join("/"), { name: o.name, reason: e.reason });
  }
  const texts = deliveries.map(cardText);
  const missing: string[] = [];
  for (const [key, { name, reason }] of wanted) {
    const nameRe = new RegExp(`(^|[^\\w.-])${escapeRe(name)}($|[^\\w.-])`);
    if (!texts.some((t) => t.includes(reason) && nameRe.test(t))) missing.push(key);
  }
  return { distinct: wanted.size, named: wanted.size - missing.length, missing };
}

export interface RateCheck {
  ok: boolean;
  maxPerSecond: number;
  maxPerMinute: number;
}

/** The largest number of requests in any 1 s and any 60 s window, per channel, on the replay clock. */
export function rates(deliveries: readonly Delivery[], limits = { perSecond: 5, perMinute: 100 }): RateCheck {
  const byChannel = new Map<string, number[]>();
  for (const d of deliveries) {
    const list = byChannel.get(d.channel) ?? [];
    list.push(Date.parse(d.at));
    byChannel.set(d.channel, list);
  }
  let maxPerSecond = 0, maxPerMinute = 0, ok = true;
  for (const times of byChannel.values()) {
    times.sort((a, b) => a - b);
    ok &&= withinLimits(times, limits);
    for (let i = 0, j = 0, k = 0; i < times.length; i++) {
      while (times[j]! <= times[i]! - 1000) j++;
      while (times[k]! <= times[i]! - 60_000) k++;
      maxPerSecond = Math.max(maxPerSecond, i - j + 1);
      maxPerMinute = Math.max(maxPerMinute, i - k + 1);
    }
  }
  return { ok, maxPerSecond, maxPerMinute };
}

export const quietLogger = (): Logger => createLogger({ level: "silent" });

export interface StormRun {
  summary: ReplaySummary;
  deliveries: Delivery[];
}

/** Replay a storm through the default handler (as plain functions) with grouping. */
export async function runStorm(items: readonly InputItem[], grouping?: GroupingSettings | false): Promise<StormRun> {
  const { host, loaded } = plainHost({ default: defaultHandler });
  return replay(items, { host, handlers: loaded, cluster: CLUSTER, timezone: TIMEZONE, logger: quietLogger(), ...(grouping === undefined ? {} : { grouping }) });
}
