/**
 * @module `/metrics` in the Prometheus text exposition format (version 0.0.4): a tiny registry of
 * counters and gauges, and the dispatcher's metrics read from the parts that already count
 * (pipeline, outbox, sandbox, handler set, watches) each time the endpoint is scraped. Nothing is
 * counted twice and no part depends on this module.
 *
 * No client library: prom-client alone would cost more memory than the whole metrics surface.
 */
import { readFileSync } from "node:fs";

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
}

export interface MetricsRegistry {
  /** A monotonic counter. By convention its name ends in `_total`. */
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string): Gauge;
  /** `fn` runs before every render, to copy current values from their owners. */
  onCollect(fn: () => void): void;
  /** The text exposition format, ending with a newline. */
  render(): string;
}

/** The Content-Type of `render()`'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge";
  /** Series by their rendered label set. */
  series: Map<string, number>;
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const names = Object.keys(labels).sort();
  if (!names.length) return "";
  for (const n of names) if (!LABEL_NAME.test(n) || n.startsWith("__")) throw new Error(`invalid label name ${JSON.stringify(n)}`);
  return `{${names.map((n) => `${n}="${escapeLabelValue(labels[n] ?? "")}"`).join(",")}}`;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

export function createMetrics(): MetricsRegistry {
  const families = new Map<string, Family>();
  const collectors: Array<() => void> = [];

  const family = (name: string, help: string, type: Family["type"]): Family => {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    if (families.has(name)) throw new Error(`metric ${name} is registered twice`);
    const f: Family = { name, help, type, series: new Map() };
    families.set(name, f);
    return f;
  };

  return {
    counter(name, help) {
      const f = family(name, help, "counter");
      return {
        inc(labels, by = 1) {
          if (!(by >= 0)) throw new Error(`counter ${name} can only go up (inc by ${by})`);
          const key = labelKey(labels);
          f.series.set(key, (f.series.get(key) ?? 0) + by);
        },
      };
    },
    gauge(name, help) {
      const f = family(name, help, "gauge");
      return {
        set(value, labels) {
          f.series.set(labelKey(labels), value);
        },
      };
    },
    onCollect(fn) {
      collectors.push(fn);
    },
    render() {
      for (const c of collectors) c();
      const lines: string[] = [];
      for (const f of families.values()) {
        lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
        for (const [key, value] of f.series) lines.push(`${f.name}${key} ${formatValue(value)}`);
      }
      return `${lines.join("\n")}\n`;
    },
  };
}

/**
 * Feeds a counter from a source that reports running totals which may restart from zero (a
 * handler's sandbox counters restart when a new version of it loads): only increases are added,
 * and a total lower than last time counts as a restart from zero.
 */
export function totalsToCounter(counter: Counter): (key: string, total: number, labels?: Labels) => void {
  const last = new Map<string, number>();
  return (key, total, labels) => {
    const previous = last.get(key) ?? 0;
    const delta = total >= previous ? total - previous : total;
    last.set(key, total);
    // Create the series even at zero, so it is visible before the first failure.
    counter.inc(labels, delta);
  };
}

/** Resident and anonymous memory of this process, in bytes (anon from /proc on Linux, else undefined). */
export function processMemory(): { rss: number; anon: number | undefined } {
  const rss = process.memoryUsage.rss();
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /^RssAnon:\s+(\d+) kB$/m.exec(status);
    return { rss, anon: m?.[1] ? Number(m[1]) * 1024 : undefined };
  } catch (err) {
    // Not Linux: RssAnon is a Linux figure; RSS is still reported.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { rss, anon: undefined };
    throw err;
  }
}

declare const __EDGE_ALARM_VERSION__: string | undefined;

/** The version baked into the bundle by build/bundle-dispatcher.ts, else package.json's (from a checkout). */
export function edgeAlarmVersion(): string {
  if (typeof __EDGE_ALARM_VERSION__ === "string") return __EDGE_ALARM_VERSION__;
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string }).version ?? "unknown";
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

/** The counters each part already keeps, as the dispatcher's metrics read them. */
export interface MetricSources {
  /** Pipeline.stats */
  pipeline(): { events: number; repeats: number; alarms: number; handlerErrors: number; truncated: number };
  /** Outbox.stats() */
  outbox(): { pending: number; spoolBytes: number; sentByCode: Readonly<Record<string, number>>; deadLetters: number; online: boolean };
  /** Sandbox.stats(): by sandbox name (`<handler>@<hash>`), failures by kind. */
  handlers(): Readonly<Record<string, { calls: number; failures: Readonly<Partial<Record<string, number>>> }>>;
  /** HandlerSet's counters. */
  handlerSet(): { reloads: number; rejected: number };
  /** ListWatch counters by watch name ("events", "configmap"). */
  watches(): Readonly<Record<string, { restarts: number; relists: number } | undefined>>;
  /** Whether this replica holds the Lease; omit without leader election. */
  isLeader?(): boolean;
}

/** Failure kinds that are a handler running out of time. */
const TIMEOUT_KINDS: ReadonlySet<string> = new Set(["timeout", "hard-timeout"]);

/** The handler's name as written: sandbox names carry a version suffix (`default@1a2b3c4d5e6f`). */
export function handlerLabel(sandboxName: string): string {
  const at = sandboxName.indexOf("@");
  return at < 0 ? sandboxName : sandboxName.slice(0, at);
}

/** Register every dispatcher metric on `registry`, read from `sources` at each scrape. */
export function registerDispatcherMetrics(registry: MetricsRegistry, sources: MetricSources, opts: { version?: string } = {}): void {
  const events = registry.counter("edge_alarm_events_total", "Event notifications processed (ADDED and MODIFIED), repeats included.");
  const repeats = registry.counter("edge_alarm_event_repeats_total", "Notifications that were repeats of an already handled occurrence.");
  const alarms = registry.counter("edge_alarm_alarms_total", "Alarms returned by handlers.");
  const truncated = registry.counter("edge_alarm_cards_truncated_total", "Cards cut down to fit the webhook's body limit.");
  const sends = registry.counter("edge_alarm_sends_total", 'Send attempts by result code: "0" accepted, a webhook error code, or "transport".');
  const deadLetters = registry.counter("edge_alarm_dead_letters_total", "Alarms given up after a non-retryable failure.");
  const queue = registry.gauge("edge_alarm_queue_depth", "Alarms waiting to be sent.");
  const spool = registry.gauge("edge_alarm_spool_bytes", "Bytes of alarms spooled on disk.");
  const online = registry.gauge("edge_alarm_sink_online", "1 while the webhook is reachable, 0 while sends fail for connectivity.");
  const calls = registry.counter("edge_alarm_handler_calls_total", "Handler calls in the sandbox.");
  const errors = registry.counter("edge_alarm_handler_errors_total", "Failed handler calls by failure kind (throw, timeout, oom, ...).");
  const timeouts = registry.counter("edge_alarm_handler_timeouts_total", "Handler calls stopped at the deadline (timeout and hard-timeout).");
  const reloads = registry.counter("edge_alarm_handler_reloads_total", "Handler ConfigMap changes that loaded or removed a handler.");
  const rejected = registry.counter("edge_alarm_handlers_rejected_total", "Handler bundles refused at load.");
  const restarts = registry.counter("edge_alarm_watch_restarts_total", "Watch reconnects after a failure.");
  const relists = registry.counter("edge_alarm_watch_relists_total", "Relists after 410 Gone.");
  const leader = sources.isLeader ? registry.gauge("edge_alarm_leader", "1 while this replica holds the Lease and sends.") : undefined;
  const info = registry.gauge("edge_alarm_build_info", "Always 1; the labels carry the versions.");
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const anon = registry.gauge("edge_alarm_process_anon_memory_bytes", "Anonymous (private, not file-backed) resident memory in bytes, from /proc/self/status RssAnon.");
  const heap = registry.gauge("edge_alarm_process_heap_used_bytes", "V8 heap in use on the main thread, in bytes.");
  const start = registry.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.");

  const pipelineTotals = {
    events: totalsToCounter(events), repeats: totalsToCounter(repeats), alarms: totalsToCounter(alarms), truncated: totalsToCounter(truncated),
  };
  const sendTotals = totalsToCounter(sends);
  const deadTotals = totalsToCounter(deadLetters);
  const callTotals = totalsToCounter(calls);
  const errorTotals = totalsToCounter(errors);
  const timeoutTotals = totalsToCounter(timeouts);
  const reloadTotals = totalsToCounter(reloads);
  const rejectedTotals = totalsToCounter(rejected);
  const restartTotals = totalsToCounter(restarts);
  const relistTotals = totalsToCounter(relists);

  info.set(1, { version: opts.version ?? edgeAlarmVersion(), node: process.version });
  start.set(Math.round(performance.timeOrigin / 1000));

  registry.onCollect(() => {
    const p = sources.pipeline();
    pipelineTotals.events("", p.events);
    pipelineTotals.repeats("", p.repeats);
    pipelineTotals.alarms("", p.alarms);
    pipelineTotals.truncated("", p.truncated);

    const o = sources.outbox();
    for (const [code, n] of Object.entries(o.sentByCode)) sendTotals(code, n, { code });
    deadTotals("", o.deadLetters);
    queue.set(o.pending);
    spool.set(o.spoolBytes);
    online.set(o.online ? 1 : 0);

    for (const [sandboxName, s] of Object.entries(sources.handlers())) {
      const handler = handlerLabel(sandboxName);
      callTotals(sandboxName, s.calls, { handler });
      let timedOut = 0;
      for (const [kind, n] of Object.entries(s.failures)) {
        errorTotals(`${sandboxName}/${kind}`, n ?? 0, { handler, kind });
        if (TIMEOUT_KINDS.has(kind)) timedOut += n ?? 0;
      }
      timeoutTotals(sandboxName, timedOut, { handler });
    }

    const h = sources.handlerSet();
    reloadTotals("", h.reloads);
    rejectedTotals("", h.rejected);

    for (const [watch, w] of Object.entries(sources.watches())) {
      if (!w) continue;
      restartTotals(watch, w.restarts, { watch });
      relistTotals(watch, w.relists, { watch });
    }

    if (leader && sources.isLeader) leader.set(sources.isLeader() ? 1 : 0);
    const mem = processMemory();
    rss.set(mem.rss);
    if (mem.anon !== undefined) anon.set(mem.anon);
    heap.set(process.memoryUsage().heapUsed);
  });
}
