import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox, type CallOutcome } from "../../../dispatcher/sandbox/index.ts";
import { createContext } from "../../../dispatcher/time-format.ts";
import defaultHandler from "../../../handlers/default.ts";
import { bundleHandler, CTX, inlineBundle, warningEvent } from "./bundles.ts";

const event = warningEvent();
const eventJson = JSON.stringify(event);

function expectFailure(outcome: CallOutcome | undefined, kind: string): Extract<CallOutcome, { ok: false }> {
  expect(outcome?.ok === false ? outcome.kind : outcome).toBe(kind);
  return outcome as Extract<CallOutcome, { ok: false }>;
}

function alarmsOf(outcome: CallOutcome | undefined): unknown {
  expect(outcome?.ok, JSON.stringify(outcome)).toBe(true);
  return outcome?.ok ? outcome.alarms : undefined;
}

/** A handler that answers `{ card: { value } }`, where value comes from `expr` (event `e`, context `ctx`). */
function returning(expr: string): string {
  return inlineBundle(`{ handle(e, ctx) { return { card: { value: ${expr} } }; } }`);
}

describe("Sandbox", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
  });
  afterAll(async () => {
    await sb.close();
  });

  describe("calls", () => {
    it("runs the bundled default handler and returns the same card as the plain function", async () => {
      const loaded = await sb.load("default", await bundleHandler("handlers/default.ts"));
      expect(loaded).toEqual({ ok: true, name: "default", match: { type: "Warning" }, hasMatchFunction: false });
      const outcome = await sb.call("default", eventJson, CTX);
      const plain = defaultHandler.handle(event, createContext({ ...CTX, handler: "default" }));
      expect(alarmsOf(outcome)).toEqual([plain]);
    });

    it("reports a MatchSpec so the caller can skip events before any sandbox call", async () => {
      const normal = { ...event, type: "Normal" };
      expect(sb.matching(event)).toContain("default");
      expect(sb.matching(normal)).not.toContain("default");
    });

    it("applies a match function inside the sandbox", async () => {
      await sb.load("only-backoff", inlineBundle(`{ match: (e) => e.reason === "BackOff", handle() { return { card: {} }; } }`));
      expect(sb.matching(event)).toContain("only-backoff");
      expect(alarmsOf(await sb.call("only-backoff", eventJson, CTX))).toEqual([]);
      const backoff = JSON.stringify({ ...event, reason: "BackOff" });
      expect(alarmsOf(await sb.call("only-backoff", backoff, CTX))).toEqual([{ card: {} }]);
    });

    it("gives the handler ctx with cluster, timezone, now, its own name and a host formatTime", async () => {
      await sb.load("ctx", returning(`[ctx.cluster, ctx.timezone, ctx.now, ctx.handler, ctx.formatTime(e.lastTimestamp, "zoned")]`));
      const alarms = alarmsOf(await sb.call("ctx", eventJson, { ...CTX, handler: "ignored" } as typeof CTX));
      const zoned = createContext({ ...CTX, handler: "ctx" }).formatTime(event.lastTimestamp, "zoned");
      expect(alarms).toEqual([{ card: { value: [CTX.cluster, CTX.timezone, CTX.now, "ctx", zoned] } }]);
    });

    it("returns outcomes of several handlers for one event in order, with not-loaded for unknown names", async () => {
      await sb.load("one", returning(`1`));
      await sb.load("two", returning(`2`));
      const outcomes = await sb.callMany(["two", "missing", "one"], eventJson, CTX);
      expect(alarmsOf(outcomes[0])).toEqual([{ card: { value: 2 } }]);
      expectFailure(outcomes[1], "not-loaded");
      expect(alarmsOf(outcomes[2])).toEqual([{ card: { value: 1 } }]);
    });
  });

  describe("isolation", () => {
    it("keeps one handler's global and event mutations away from other handlers and later calls", async () => {
      await sb.load(
        "vandal",
        inlineBundle(`{ handle(e) {
          const seen = e.reason;
          e.reason = "Vandalised"; delete e.metadata;
          globalThis.shared = "vandal"; Object.prototype.polluted = true; JSON.parse = () => ({ hacked: true });
          return { card: { seen } };
        } }`),
      );
      await sb.load("observer", returning(`[typeof globalThis.shared, ({}).polluted === undefined, e.reason, e.metadata.uid]`));
      const [first, observer, second] = await sb.callMany(["vandal", "observer", "vandal"], eventJson, CTX);
      expect(alarmsOf(first)).toEqual([{ card: { seen: event.reason } }]);
      expect(alarmsOf(observer)).toEqual([{ card: { value: ["undefined", true, event.reason, event.metadata.uid] } }]);
      // The vandal's own next call still gets a freshly parsed event (the glue kept the real JSON.parse).
      expect(alarmsOf(second)).toEqual([{ card: { seen: event.reason } }]);
    });
  });

  describe("misbehaving handlers", () => {
    it("returns a throw with message and bundle stack, and keeps working", async () => {
      await sb.load("thrower", inlineBundle(`{ handle(e) { if (e.reason !== "Fine") throw new RangeError("bad " + e.reason); return null; } }`));
      const failed = expectFailure(await sb.call("thrower", eventJson, CTX), "throw");
      expect(failed.message).toBe(`RangeError: bad ${event.reason}`);
      expect(failed.stack).toMatch(/thrower\.js:\d+/);
      expect(alarmsOf(await sb.call("thrower", JSON.stringify({ ...event, reason: "Fine" }), CTX))).toEqual([]);
    });

    it("interrupts an endless loop at the deadline and keeps the context", async () => {
      await sb.load("spinner", inlineBundle(`{ handle(e) { globalThis.calls = (globalThis.calls || 0) + 1; if (calls === 1) for (;;) {} return { card: { calls } }; } }`));
      const started = performance.now();
      const failed = expectFailure(await sb.call("spinner", eventJson, CTX), "timeout");
      expect(performance.now() - started).toBeLessThan(900);
      expect(failed.message).toMatch(/50 ms deadline/);
      expect(alarmsOf(await sb.call("spinner", eventJson, CTX))).toEqual([{ card: { calls: 2 } }]);
    });

    it("rebuilds the module after an out-of-memory and the next call works", async () => {
      await sb.load(
        "hog",
        inlineBundle(`{ handle(e) {
          if (e.reason === "Hog") { const a = []; for (;;) a.push("x".repeat(1 << 20) + a.length); }
          globalThis.n = (globalThis.n || 0) + 1;
          return { card: { n } };
        } }`),
      );
      expect(alarmsOf(await sb.call("hog", eventJson, CTX))).toEqual([{ card: { n: 1 } }]);
      const failed = expectFailure(await sb.call("hog", JSON.stringify({ ...event, reason: "Hog" }), CTX), "oom");
      expect(failed.message).toMatch(/out of memory/);
      // A fresh module: the global counter starts again.
      expect(alarmsOf(await sb.call("hog", eventJson, CTX))).toEqual([{ card: { n: 1 } }]);
      expect(sb.stats().hog).toMatchObject({ calls: 3, ok: 2, failures: { oom: 1 }, rebuilds: 1 });
    });

    it("reports deep recursion and deeply nested JSON.parse as stack overflows and stays usable", async () => {
      await sb.load(
        "deep",
        inlineBundle(`{ handle(e) {
          if (e.reason === "Recurse") { const f = (n) => f(n + 1) + 1; return f(0); }
          if (e.reason === "Nest") return JSON.parse("[".repeat(100000));
          return { card: { ok: true } };
        } }`),
      );
      expectFailure(await sb.call("deep", JSON.stringify({ ...event, reason: "Recurse" }), CTX), "stack");
      expectFailure(await sb.call("deep", JSON.stringify({ ...event, reason: "Nest" }), CTX), "stack");
      expect(alarmsOf(await sb.call("deep", eventJson, CTX))).toEqual([{ card: { ok: true } }]);
    });

    it.each([
      ["a function", `() => 1`, /returned a function/],
      ["a cyclic object", `(() => { const a = { card: {} }; a.card.self = a; return a; })()`, /circular/],
      ["a BigInt", `({ card: { n: 1n } })`, /BigInt/],
      ["a card that is a string", `({ card: "hello" })`, /card is a string, not an object/],
      ["a number", `42`, /returned a number/],
      ["a promise", `Promise.resolve({ card: {} })`, /Promise/],
      ["a 5 MB card", `({ card: { text: "x".repeat(5e6) } })`, /over the limit of 1048576/],
    ])("refuses %s as invalid-result", async (_what, expr, message) => {
      await sb.load("bad-result", inlineBundle(`{ handle() { return ${expr}; } }`));
      const failed = expectFailure(await sb.call("bad-result", eventJson, CTX), "invalid-result");
      expect(failed.message).toMatch(message);
    });
  });

  describe("no host access", () => {
    it("has no process, require, fetch, timers or fs, even through the Function constructor", async () => {
      await sb.load(
        "escape",
        returning(`(() => {
          const probe = (f) => { try { return String(f()); } catch (err) { return err.name; } };
          return {
            process: probe(() => ({}).constructor.constructor("return process")()),
            processType: probe(() => ({}).constructor.constructor("return typeof process")()),
            thisProcess: probe(() => Function("return this")().process),
            require: typeof globalThis.require, fetch: typeof fetch, setTimeout: typeof setTimeout,
            setInterval: typeof setInterval, queueMicrotask: typeof queueMicrotask, std: typeof std, os: typeof os,
          };
        })()`),
      );
      expect(alarmsOf(await sb.call("escape", eventJson, CTX))).toEqual([
        {
          card: {
            value: {
              process: "ReferenceError",
              processType: "undefined",
              thisProcess: "undefined",
              require: "undefined",
              fetch: "undefined",
              setTimeout: "undefined",
              setInterval: "undefined",
              queueMicrotask: "undefined",
              std: "undefined",
              os: "undefined",
            },
          },
        },
      ]);
    });

    it("refuses dynamic import()", async () => {
      await sb.load(
        "importer",
        inlineBundle(`{ handle() {
          const before = globalThis.result;
          import("node:fs").then(() => { globalThis.result = "loaded"; }, (err) => { globalThis.result = "refused: " + err; });
          return { card: { before: before === undefined ? null : before } };
        } }`),
      );
      expect(alarmsOf(await sb.call("importer", eventJson, CTX))).toEqual([{ card: { before: null } }]);
      const second = alarmsOf(await sb.call("importer", eventJson, CTX)) as { card: { before: string } }[];
      expect(second[0]?.card.before).toMatch(/^refused: /);
    });

    it("refuses a bundle that is an ES module", async () => {
      const loaded = await sb.load("esm", `import fs from "node:fs"; export default { handle() { return null; } };`);
      expect(loaded.ok).toBe(false);
    });
  });

  describe("console", () => {
    it("returns console lines with their level, bounded per call", async () => {
      await sb.load(
        "chatty",
        inlineBundle(`{ handle(e) {
          console.log("reason", e.reason, { n: 1 });
          console.warn("careful");
          console.error(new Error("shown"));
          console.debug("x".repeat(5000));
          for (let i = 0; i < 40; i++) console.info("line", i);
          return null;
        } }`),
      );
      const outcome = await sb.call("chatty", eventJson, CTX);
      expect(outcome.ok).toBe(true);
      const logs = outcome.logs;
      expect(logs[0]).toEqual({ level: "log", message: `reason ${event.reason} {"n":1}` });
      expect(logs[1]).toEqual({ level: "warn", message: "careful" });
      expect(logs[2]?.level).toBe("error");
      expect(logs[2]?.message).toContain("shown");
      expect(logs[3]?.level).toBe("debug");
      expect(logs[3]?.message.length).toBeLessThanOrEqual(1025);
      expect(logs.filter((l) => l.level === "info")).toHaveLength(16);
      expect(logs.at(-1)?.message).toMatch(/24 more console line/);
    });

    it("keeps the console lines of a call that failed", async () => {
      await sb.load("says-then-throws", inlineBundle(`{ handle() { console.log("before"); throw new Error("after"); } }`));
      const failed = expectFailure(await sb.call("says-then-throws", eventJson, CTX), "throw");
      expect(failed.logs).toEqual([{ level: "log", message: "before" }]);
    });
  });

  describe("loading", () => {
    it.each([
      ["a syntax error, with its line", "var x = 1;\nvar y = ;", /handler 'broken': SyntaxError: .*broken\.js:2/],
      ["no handler global", "var somethingElse = 1;", /does not define __edgeAlarmHandler/],
      ["no default export", "var __edgeAlarmHandler = {};", /no default export/],
      ["no handle()", inlineBundle(`{ match: { type: "Warning" } }`), /default export has no handle\(\) function/],
      ["an unknown match key", inlineBundle(`{ match: { typ: "Warning" }, handle() {} }`), /match has unknown key "typ"/],
      ["a bad match value", inlineBundle(`{ match: { reason: [1] }, handle() {} }`), /match\.reason must be a string or an array of strings/],
      ["a throwing top level", `throw new TypeError("not today");`, /TypeError: not today/],
      ["an endless top level", `for (;;) {}`, /interrupted/],
    ])("explains %s", async (_what, code, message) => {
      const loaded = await sb.load("broken", code);
      expect(loaded.ok).toBe(false);
      expect(loaded.ok ? "" : loaded.error).toMatch(message);
      expect(sb.names()).not.toContain("broken");
    });

    it("replaces a handler only when the new version loads", async () => {
      await sb.load("versioned", returning(`"v1"`));
      const broken = await sb.load("versioned", `var x = ;`);
      expect(broken.ok).toBe(false);
      expect(alarmsOf(await sb.call("versioned", eventJson, CTX))).toEqual([{ card: { value: "v1" } }]);
      await sb.load("versioned", returning(`"v2"`));
      expect(alarmsOf(await sb.call("versioned", eventJson, CTX))).toEqual([{ card: { value: "v2" } }]);
    });

    it("unloads", async () => {
      await sb.load("temporary", returning(`1`));
      await sb.unload("temporary");
      expect(sb.names()).not.toContain("temporary");
      expectFailure(await sb.call("temporary", eventJson, CTX), "not-loaded");
      expect(sb.stats().temporary).toBeUndefined();
    });
  });
});
