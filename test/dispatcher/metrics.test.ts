import { describe, expect, it } from "vitest";
import { createMetrics, handlerLabel, registerDispatcherMetrics, totalsToCounter, type MetricSources } from "../../dispatcher/metrics.ts";
import { ExpositionError, parsePrometheusText, sampleValue } from "../deploy/prometheus-text.ts";

/** Sources whose numbers a test changes between scrapes. */
function fakeSources() {
  const state = {
    pipeline: { events: 0, repeats: 0, alarms: 0, handlerErrors: 0, truncated: 0 },
    outbox: { pending: 0, spoolBytes: 0, sentByCode: {} as Record<string, number>, deadLetters: 0, online: true },
    handlers: {} as Record<string, { calls: number; failures: Partial<Record<string, number>> }>,
    handlerSet: { reloads: 0, rejected: 0 },
    watches: {} as Record<string, { restarts: number; relists: number }>,
    leader: false,
  };
  const sources: MetricSources = {
    pipeline: () => state.pipeline,
    outbox: () => state.outbox,
    handlers: () => state.handlers,
    handlerSet: () => state.handlerSet,
    watches: () => state.watches,
    isLeader: () => state.leader,
  };
  return { state, sources };
}

describe("the parser used by these tests", () => {
  it("refuses what Prometheus refuses", () => {
    const bad = [
      "a 1", // no newline at the end
      "a{b=\"x\\q\"} 1\n", // bad escape
      "a{b=\"x\"} one\n", // not a number
      "# TYPE a counter\na -1\n", // negative counter
      "# TYPE a counter\n# TYPE b gauge\nb 1\na 1\n", // family split
      "a{b=\"1\"} 1\na{b=\"1\"} 2\n", // duplicate series
      "# TYPE a gauge\na 1\n# TYPE a gauge\n", // TYPE after samples
      "a{1b=\"x\"} 1\n", // bad label name
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), JSON.stringify(text)).toThrow(ExpositionError);
  });

  it("reads escapes, special values and timestamps", () => {
    const families = parsePrometheusText('# HELP a say \\\\ and \\n\n# TYPE a gauge\na{x="q\\"uo\\\\te\\nnl"} +Inf 1700000000000\na{x="2"} NaN\n');
    expect(families[0]?.help).toBe("say \\ and \n");
    expect(families[0]?.samples[0]).toEqual({ name: "a", labels: { x: 'q"uo\\te\nnl' }, value: Infinity });
    expect(Number.isNaN(families[0]?.samples[1]?.value)).toBe(true);
  });
});

describe("createMetrics", () => {
  it("renders counters and gauges that parse, with label values escaped", () => {
    const m = createMetrics();
    const c = m.counter("t_things_total", "Things.\nSecond line with a \\ backslash.");
    const g = m.gauge("t_depth", "Depth.");
    c.inc();
    c.inc({ handler: 'evil"name\\with\nnewline' }, 2);
    g.set(3.5);
    const families = parsePrometheusText(m.render());
    expect(families.map((f) => [f.name, f.type])).toEqual([["t_things_total", "counter"], ["t_depth", "gauge"]]);
    expect(families[0]?.help).toBe("Things.\nSecond line with a \\ backslash.");
    expect(sampleValue(families, "t_things_total")).toBe(1);
    expect(sampleValue(families, "t_things_total", { handler: 'evil"name\\with\nnewline' })).toBe(2);
    expect(sampleValue(families, "t_depth")).toBe(3.5);
  });

  it("refuses bad names, duplicate registration and counters going down", () => {
    const m = createMetrics();
    expect(() => m.counter("9bad", "x")).toThrow(/invalid metric name/);
    m.gauge("ok", "x");
    expect(() => m.gauge("ok", "x")).toThrow(/twice/);
    const c = m.counter("c_total", "x");
    expect(() => c.inc(undefined, -1)).toThrow(/only go up/);
    expect(() => c.inc({ "bad-label": "x" })).toThrow(/label name/);
  });

  it("sorts labels so the same set is one series whatever the key order", () => {
    const m = createMetrics();
    const c = m.counter("c_total", "x");
    c.inc({ a: "1", b: "2" });
    c.inc({ b: "2", a: "1" });
    expect(sampleValue(parsePrometheusText(m.render()), "c_total", { a: "1", b: "2" })).toBe(2);
  });
});

describe("totalsToCounter", () => {
  it("adds only increases and treats a lower total as a restart from zero", () => {
    const m = createMetrics();
    const feed = totalsToCounter(m.counter("c_total", "x"));
    feed("v1", 5);
    feed("v1", 7);
    feed("v1", 2); // restarted: 2 more
    feed("v2", 4, {}); // another source of the same series
    expect(sampleValue(parsePrometheusText(m.render()), "c_total")).toBe(7 + 2 + 4);
  });
});

describe("registerDispatcherMetrics", () => {
  it("exposes every required metric, read at each scrape, as valid Prometheus text", () => {
    const { state, sources } = fakeSources();
    const m = createMetrics();
    registerDispatcherMetrics(m, sources, { version: "9.9.9" });

    state.pipeline = { events: 10, repeats: 3, alarms: 4, handlerErrors: 2, truncated: 1 };
    state.outbox = { pending: 2, spoolBytes: 4096, sentByCode: { "0": 3, "11232": 1, transport: 2 }, deadLetters: 1, online: false };
    state.handlers = {
      "default@aaaaaaaaaaaa": { calls: 8, failures: {} },
      "slow@bbbbbbbbbbbb": { calls: 5, failures: { timeout: 2, "hard-timeout": 1, throw: 1 } },
    };
    state.handlerSet = { reloads: 2, rejected: 1 };
    state.watches = { events: { restarts: 3, relists: 1 }, configmap: { restarts: 0, relists: 0 } };
    state.leader = true;

    const families = parsePrometheusText(m.render());
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels);
    expect(v("edge_alarm_events_total")).toBe(10);
    expect(v("edge_alarm_event_repeats_total")).toBe(3);
    expect(v("edge_alarm_alarms_total")).toBe(4);
    expect(v("edge_alarm_sends_total", { code: "0" })).toBe(3);
    expect(v("edge_alarm_sends_total", { code: "11232" })).toBe(1);
    expect(v("edge_alarm_sends_total", { code: "transport" })).toBe(2);
    expect(v("edge_alarm_dead_letters_total")).toBe(1);
    expect(v("edge_alarm_queue_depth")).toBe(2);
    expect(v("edge_alarm_spool_bytes")).toBe(4096);
    expect(v("edge_alarm_sink_online")).toBe(0);
    expect(v("edge_alarm_handler_calls_total", { handler: "default" })).toBe(8);
    expect(v("edge_alarm_handler_errors_total", { handler: "slow", kind: "timeout" })).toBe(2);
    expect(v("edge_alarm_handler_errors_total", { handler: "slow", kind: "throw" })).toBe(1);
    expect(v("edge_alarm_handler_timeouts_total", { handler: "slow" })).toBe(3);
    expect(v("edge_alarm_handler_timeouts_total", { handler: "default" })).toBe(0);
    expect(v("edge_alarm_handler_reloads_total")).toBe(2);
    expect(v("edge_alarm_handlers_rejected_total")).toBe(1);
    expect(v("edge_alarm_watch_restarts_total", { watch: "events" })).toBe(3);
    expect(v("edge_alarm_watch_relists_total", { watch: "events" })).toBe(1);
    expect(v("edge_alarm_leader")).toBe(1);
    expect(v("edge_alarm_build_info", { version: "9.9.9", node: process.version })).toBe(1);
    expect(v("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(v("edge_alarm_process_anon_memory_bytes")).toBeGreaterThan(0);
    expect(Math.abs((v("process_start_time_seconds") ?? 0) - Date.now() / 1000)).toBeLessThan(3600);
    for (const f of families) if (f.type === "counter") expect(f.name, "counter names end in _total").toMatch(/_total$/);
  });

  it("keeps handler counters monotonic across a reload that resets the sandbox's counters", () => {
    const { state, sources } = fakeSources();
    const m = createMetrics();
    registerDispatcherMetrics(m, sources);
    state.handlers = { "h@111111111111": { calls: 5, failures: { throw: 2 } } };
    m.render();
    // A new version is loaded and the old one unloaded: the new counters start at zero.
    state.handlers = { "h@222222222222": { calls: 1, failures: { throw: 1 } } };
    const families = parsePrometheusText(m.render());
    expect(sampleValue(families, "edge_alarm_handler_calls_total", { handler: "h" })).toBe(6);
    expect(sampleValue(families, "edge_alarm_handler_errors_total", { handler: "h", kind: "throw" })).toBe(3);
  });

  it("has no leader gauge without leader election", () => {
    const { sources } = fakeSources();
    const { isLeader: _unused, ...withoutLeader } = sources;
    const m = createMetrics();
    registerDispatcherMetrics(m, withoutLeader);
    expect(m.render()).not.toContain("edge_alarm_leader");
  });

  it("labels handlers by their written name", () => {
    expect(handlerLabel("default@1a2b3c4d5e6f")).toBe("default");
    expect(handlerLabel("plain")).toBe("plain");
  });
});
