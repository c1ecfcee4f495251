/**
 * The guest side of the call ABI: a small script evaluated in each handler's QuickJS context
 * before the bundle. It takes the event as one JSON string, builds `ctx`, applies a function
 * `match`, calls `handle` and returns one JSON string (the "envelope"), so a call costs two
 * string handles in and one string out instead of a handle per property.
 *
 * Envelope: `{"r": result, "l": [level, line, ...], "d": droppedLines}` on success, or
 * `{"x": "why the result is invalid", "l": ..., "d": ...}`. `l`/`d` are present only when the
 * handler logged something.
 *
 * The script captures JSON, Array.isArray, String, Error and TypeError before the bundle runs,
 * so a handler that replaces those globals only confuses itself.
 */

import type { GroupingDeclaration } from "./types.ts";

/** The global name the esbuild IIFE bundle assigns its module namespace to (`globalName`). */
export const HANDLER_GLOBAL = "__edgeAlarmHandler";

/** What `init()` reports after the bundle ran. */
export type GlueInit =
  | { ok: true; match?: Record<string, string | string[]>; grouping?: GroupingDeclaration; fn: boolean }
  | { ok: false; error: string };

/** What `describe(error)` reports about a thrown value. */
export interface GlueError {
  name: string;
  message: string;
  stack?: string;
}

/** Evaluates to `setup(hostFormatTime, handlerName, maxResultChars, maxLogLines, maxLogChars)`. */
export const GLUE_SOURCE = String.raw`(function setup(hostFormatTime, handlerName, maxResultChars, maxLogLines, maxLogChars) {
  "use strict";
  const parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray, keys = Object.keys;
  const toStr = String, ErrorCtor = Error, TypeErrorCtor = TypeError, DateCtor = Date, parseDate = Date.parse;
  const protoOf = Object.getPrototypeOf, ObjectProto = Object.prototype;
  const SPEC_KEYS = ["type", "reason", "kind", "namespace"];
  const GROUPING_KEYS = ["wait", "interval", "repeat"];
  const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/;
  let handler, matchFn;
  let cluster = "", timezone = "UTC", zone = null, formatTime = makeFormatTime();
  let logs = [], dropped = 0;

  function pad(n) {
    return n < 10 ? "0" + n : "" + n;
  }

  function offsetAt(table, ms) {
    const starts = table.starts;
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= ms) lo = mid; else hi = mid - 1;
    }
    return table.offsets[lo];
  }

  // Same output as the host's formatTime (dispatcher/time-format.ts) for RFC 3339 times inside the
  // zone table's window; everything else is formatted by the host.
  function makeFormatTime() {
    const tz = timezone, table = zone;
    return function formatTime(iso, style) {
      const text = toStr(iso), how = style === undefined ? "datetime" : toStr(style);
      // Styles formatted here; any other (e.g. "go", which needs zone abbreviations) goes to the host.
      const mine = how === "datetime" || how === "zoned" || how === "date" || how === "time" || how === "iso";
      const ms = table !== null && mine && RFC3339.test(text) ? parseDate(text) : NaN;
      if (table === null || !(ms >= table.from && ms < table.to)) return hostFormatTime(text, tz, how);
      if (how === "iso") return new DateCtor(ms).toISOString().replace(".000Z", "Z");
      const offset = offsetAt(table, ms);
      const t = new DateCtor(ms + offset * 60000);
      const date = t.getUTCFullYear() + "-" + pad(t.getUTCMonth() + 1) + "-" + pad(t.getUTCDate());
      if (how === "date") return date;
      const clock = pad(t.getUTCHours()) + ":" + pad(t.getUTCMinutes()) + ":" + pad(t.getUTCSeconds());
      if (how === "time") return clock;
      if (how === "datetime") return date + " " + clock;
      const abs = offset < 0 ? -offset : offset;
      return date + " " + clock + " " + (offset < 0 ? "-" : "+") + pad((abs / 60) | 0) + ":" + pad(abs % 60);
    };
  }

  function show(v) {
    if (typeof v === "string") return v;
    if (v instanceof ErrorCtor) {
      try { return toStr(v) + (typeof v.stack === "string" ? "\n" + v.stack : ""); } catch (e) { return "[Error]"; }
    }
    let text;
    try { text = stringify(v); } catch (e) { text = undefined; }
    if (text !== undefined) return text;
    try { return toStr(v); } catch (e) { return "[" + typeof v + "]"; }
  }

  function writer(level) {
    return function () {
      if (logs.length >= maxLogLines * 2) { dropped++; return; }
      let line = "";
      for (let i = 0; i < arguments.length && line.length <= maxLogChars; i++) line += (i ? " " : "") + show(arguments[i]);
      logs.push(level, line.length > maxLogChars ? line.slice(0, maxLogChars) + "…" : line);
    };
  }
  globalThis.console = { log: writer("log"), info: writer("info"), warn: writer("warn"), error: writer("error"), debug: writer("debug") };

  function kindOf(v) {
    return v === null ? "null" : isArray(v) ? "an array" : typeof v;
  }
  function refuse(error) {
    return stringify({ ok: false, error: error });
  }

  // The shape of handler.grouping: a plain object of duration strings. The durations themselves
  // are parsed by the dispatcher (one parser for handlers and EDGE_ALARM_GROUP_*). Returns
  // { timers } or { error }.
  function readGrouping(g) {
    if (g === undefined) return {};
    const proto = typeof g === "object" && g !== null && !isArray(g) ? protoOf(g) : undefined;
    if (proto !== ObjectProto && proto !== null) {
      return { error: "grouping must be a plain object { wait?, interval?, repeat? } of duration strings such as \"30s\", got " + (proto === undefined ? kindOf(g) : "an object with a prototype") };
    }
    const timers = {};
    for (const k of keys(g)) {
      if (GROUPING_KEYS.indexOf(k) < 0) return { error: "grouping has unknown key " + stringify(k) + " (allowed: " + GROUPING_KEYS.join(", ") + ")" };
      const v = g[k];
      if (v === undefined) continue;
      if (typeof v !== "string") return { error: "grouping." + k + " must be a duration string such as \"5m\", got " + kindOf(v) };
      timers[k] = v;
    }
    return { timers: timers };
  }

  function init() {
    const ns = typeof ${HANDLER_GLOBAL} === "undefined" ? undefined : ${HANDLER_GLOBAL};
    if (ns === undefined || ns === null) {
      return refuse("the bundle does not define ${HANDLER_GLOBAL} (bundle it with esbuild format \"iife\" and globalName \"${HANDLER_GLOBAL}\")");
    }
    const h = ns.default;
    if (h === undefined) return refuse("the module has no default export (export default defineHandler({ handle(event, ctx) { ... } }))");
    if (typeof h !== "object" || h === null || isArray(h)) return refuse("the default export is " + kindOf(h) + ", not a handler object { match?, handle(event, ctx) }");
    if (typeof h.handle !== "function") return refuse("the default export has no handle() function");
    const m = h.match;
    let spec;
    if (typeof m === "function") {
      matchFn = m;
    } else if (m !== undefined) {
      if (typeof m !== "object" || m === null || isArray(m)) return refuse("match must be a MatchSpec object or a function, got " + kindOf(m));
      spec = {};
      for (const k of keys(m)) {
        if (SPEC_KEYS.indexOf(k) < 0) return refuse("match has unknown key " + stringify(k) + " (allowed: " + SPEC_KEYS.join(", ") + ")");
        const v = m[k];
        if (v === undefined) continue;
        const ok = typeof v === "string" || (isArray(v) && v.every(function (x) { return typeof x === "string"; }));
        if (!ok) return refuse("match." + k + " must be a string or an array of strings, got " + kindOf(v));
        spec[k] = typeof v === "string" ? v : v.slice();
      }
    }
    const grouping = readGrouping(h.grouping);
    if (grouping.error !== undefined) return refuse(grouping.error);
    handler = h;
    return stringify({ ok: true, match: spec, grouping: grouping.timers, fn: matchFn !== undefined });
  }

  function configure(newCluster, newTimezone, zoneJson) {
    cluster = newCluster;
    timezone = newTimezone;
    zone = parse(zoneJson);
    formatTime = makeFormatTime();
  }

  function invalid(why) {
    return stringify(logs.length ? { x: why, l: logs, d: dropped } : { x: why });
  }

  function finish(r) {
    if (typeof r === "function") return invalid("handle() returned a function, not an Alarm");
    if (typeof r === "object" && r !== null && typeof r.then === "function") return invalid("handle() returned a Promise; handlers must be synchronous");
    let json;
    try {
      json = r === undefined ? "null" : stringify(r);
    } catch (e) {
      if (e instanceof TypeErrorCtor) return invalid("the result cannot be turned into JSON: " + toStr(e.message));
      throw e;
    }
    if (json === undefined) return invalid("handle() returned " + typeof r + ", not an Alarm");
    if (json.length > maxResultChars) return invalid("the result is " + json.length + " characters of JSON, over the limit of " + maxResultChars);
    if (!logs.length) return '{"r":' + json + "}";
    return '{"r":' + json + ',"l":' + stringify(logs) + ',"d":' + dropped + "}";
  }

  function call(eventJson, now) {
    logs = [];
    dropped = 0;
    const event = parse(eventJson);
    if (matchFn !== undefined && !matchFn.call(handler, event)) return finish(null);
    return finish(handler.handle(event, { cluster: cluster, timezone: timezone, now: now, handler: handlerName, formatTime: formatTime }));
  }

  function takeLogs() {
    return stringify({ l: logs, d: dropped });
  }

  function describe(e) {
    try {
      if (e instanceof ErrorCtor) {
        return stringify({ name: toStr(e.name), message: toStr(e.message), stack: typeof e.stack === "string" ? e.stack : undefined });
      }
      return stringify({ name: "Error", message: "a non-Error value was thrown: " + show(e) });
    } catch (x) {
      return stringify({ name: "Error", message: "an exception whose details could not be read" });
    }
  }

  function ping() {
    return 1;
  }

  return { init: init, configure: configure, call: call, takeLogs: takeLogs, describe: describe, ping: ping };
})`;
