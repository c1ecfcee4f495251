import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { QUARANTINE_AFTER, Sandbox, validateBundle, type SandboxIsolation } from "../../../dispatcher/sandbox/index.ts";
import { CTX, inlineBundle, warningEvent } from "./bundles.ts";

const eventJson = JSON.stringify(warningEvent());
const HARD_MS = 300;

/** `Array.prototype.join` on a huge sparse array never polls QuickJS's interrupt handler. */
const STUCK = inlineBundle(`{ handle() { return new Array(1e9).join(""); } }`);
/** Nor does `indexOf` on an array-like of huge length (no memory is touched: only time stops it). */
const STUCK_INDEX_OF = inlineBundle(`{ handle() { return [].indexOf.call({ length: 2 ** 53 - 1 }, 1); } }`);

function returning(value: string): string {
  return inlineBundle(`{ handle() { globalThis.n = (globalThis.n || 0) + 1; return { card: { value: ${value}, n } }; } }`);
}

function threads(): number {
  const match = /^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(match?.[1]);
}

async function settledThreads(target: number): Promise<number> {
  for (let i = 0; i < 50 && threads() > target; i++) await sleep(20);
  return threads();
}

describe.each<SandboxIsolation>(["thread", "worker"])("Sandbox recovery, %s isolation", (isolation) => {
  const worker = isolation === "worker";

  it("stops a handler stuck in a builtin, reports hard-timeout, and still runs the other handlers", async () => {
    const sb = await Sandbox.create({ hardTimeoutMs: HARD_MS, isolation });
    try {
      await sb.load("before", returning(`"before"`));
      await sb.load("stuck", STUCK);
      await sb.load("after", returning(`"after"`));
      const started = performance.now();
      const [before, stuck, after] = await sb.callMany(["before", "stuck", "after"], eventJson, CTX);
      expect(performance.now() - started).toBeLessThan(HARD_MS * 10);
      expect(stuck?.ok === false && stuck.kind).toBe("hard-timeout");
      // In a worker, "before" finished but its result died with the worker: it ran again in the new
      // one. On the thread only the stuck handler's instance is replaced.
      expect(before?.ok && before.alarms).toEqual([{ card: { value: "before", n: 1 } }]);
      expect(after?.ok && after.alarms).toEqual([{ card: { value: "after", n: 1 } }]);

      const again = await sb.call("before", eventJson, CTX);
      expect(again.ok && again.alarms).toEqual([{ card: { value: "before", n: 2 } }]);
      const stats = sb.stats();
      expect(stats.stuck?.failures).toEqual({ "hard-timeout": 1 });
      expect(stats.before?.rebuilds).toBe(worker ? 1 : 0);
      expect(stats.stuck?.rebuilds).toBe(1);
      expect(sb.names()).toEqual(["before", "stuck", "after"]);
    } finally {
      await sb.close();
    }
  });

  it("stops a builtin that loops without allocating, and the handler works again after", async () => {
    const sb = await Sandbox.create({ hardTimeoutMs: HARD_MS, isolation });
    try {
      await sb.load("index-of", STUCK_INDEX_OF);
      const started = performance.now();
      const outcome = await sb.call("index-of", eventJson, CTX);
      expect(outcome.ok === false && outcome.kind).toBe("hard-timeout");
      expect(outcome.ok === false && outcome.message).toMatch(/no answer within the 300 ms hard limit/);
      expect(performance.now() - started).toBeLessThan(HARD_MS * 10);
      await sb.load("fine", returning(`"fine"`));
      const fine = await sb.call("fine", eventJson, CTX);
      expect(fine.ok && fine.alarms).toEqual([{ card: { value: "fine", n: 1 } }]);
    } finally {
      await sb.close();
    }
  });

  it("does not blame a handler when the host's own event loop was blocked past the hard limit", async () => {
    const sb = await Sandbox.create({ hardTimeoutMs: HARD_MS, isolation });
    try {
      await sb.load("quick", returning(`"quick"`));
      const pending = sb.call("quick", eventJson, CTX);
      const until = performance.now() + HARD_MS * 2;
      while (performance.now() < until) {
        // Busy host: the worker answers meanwhile, but the reply waits behind the watchdog's timer.
      }
      const outcome = await pending;
      expect(outcome.ok && outcome.alarms).toEqual([{ card: { value: "quick", n: 1 } }]);
      expect(sb.stats().quick?.rebuilds).toBe(0);
    } finally {
      await sb.close();
    }
  });

  it("stops calling a handler after repeated hard timeouts until it is loaded again", async () => {
    const sb = await Sandbox.create({ hardTimeoutMs: 200, isolation });
    try {
      await sb.load("stuck", STUCK);
      for (let i = 0; i < QUARANTINE_AFTER; i++) {
        const outcome = await sb.call("stuck", eventJson, CTX);
        expect(outcome.ok === false && outcome.kind).toBe("hard-timeout");
      }
      const started = performance.now();
      const skipped = await sb.call("stuck", eventJson, CTX);
      expect(skipped.ok === false && skipped.kind).toBe("quarantined");
      expect(performance.now() - started).toBeLessThan(100);
      expect(sb.stats().stuck?.failures).toEqual({ "hard-timeout": QUARANTINE_AFTER, quarantined: 1 });

      await sb.load("stuck", returning(`"fixed"`));
      const fixed = await sb.call("stuck", eventJson, CTX);
      expect(fixed.ok && fixed.alarms).toEqual([{ card: { value: "fixed", n: 1 } }]);
    } finally {
      await sb.close();
    }
  });

  it("keeps the previous version when a new bundle's top level never returns", async () => {
    const sb = await Sandbox.create({ hardTimeoutMs: HARD_MS, isolation });
    try {
      await sb.load("flaky", returning(`"v1"`));
      const loaded = await sb.load("flaky", `new Array(1e9).join("");`);
      expect(loaded.ok ? "" : loaded.error).toMatch(/handler 'flaky': evaluating the bundle did not finish within 300 ms/);
      const outcome = await sb.call("flaky", eventJson, CTX);
      expect(outcome.ok && outcome.alarms).toEqual([{ card: { value: "v1", n: 1 } }]);
    } finally {
      await sb.close();
    }
  });

  it("rebuilds a handler that holds (nearly) all of its memory, whether or not it caught the OOM", async () => {
    // 17 MiB cap: the heap starts at 16 MiB, so filling it takes ~0.1 s instead of ~1 s.
    const sb = await Sandbox.create({ memoryBytes: 17 * 1024 * 1024, deadlineMs: 5000, isolation });
    try {
      const hoarder = (guard: boolean) =>
        inlineBundle(`{ handle(e) {
          globalThis.keep = globalThis.keep || [];
          if (e.reason === "Hoard") {
            ${guard ? "try {" : ""} for (;;) keep.push({ i: keep.length, s: "s" + keep.length }); ${guard ? "} catch (err) { return { card: { caught: String(err) } }; }" : ""}
          }
          return { card: { kept: keep.length } };
        } }`);
      await sb.load("hoard", hoarder(false));
      await sb.load("hoard-quietly", hoarder(true));
      await sb.load("bystander", returning(`"fine"`));
      const hoard = JSON.stringify({ ...warningEvent(), reason: "Hoard" });

      const failed = await sb.call("hoard", hoard, CTX);
      expect(failed.ok === false && failed.kind).toBe("oom");
      const quiet = await sb.call("hoard-quietly", hoard, CTX);
      expect(quiet.ok && quiet.alarms).toEqual([{ card: { caught: "InternalError: out of memory" } }]);

      for (const name of ["hoard", "hoard-quietly"]) {
        const next = await sb.call(name, eventJson, CTX);
        expect(next.ok && next.alarms, name).toEqual([{ card: { kept: 0 } }]);
        expect(sb.stats()[name]?.rebuilds, name).toBe(1);
      }
      const bystander = await sb.call("bystander", eventJson, CTX);
      expect(bystander.ok && bystander.alarms).toEqual([{ card: { value: "fine", n: 1 } }]);
    } finally {
      await sb.close();
    }
  });

  it(`${worker ? "leaves no worker thread behind" : "starts no thread"}, and answers calls after close with a failure`, async () => {
    const idle = threads();
    const sb = await Sandbox.create({ isolation });
    await sb.load("x", returning(`1`));
    if (worker) expect(threads()).toBeGreaterThan(idle);
    else expect(await settledThreads(idle)).toBe(idle);
    await sb.close();
    expect(await settledThreads(idle)).toBe(idle);
    const outcome = await sb.call("x", eventJson, CTX);
    expect(outcome.ok === false && outcome.kind).toBe("crashed");
  });

  it("validates a bundle in a throwaway sandbox", async () => {
    const idle = threads();
    expect(await validateBundle("good", returning(`1`), { isolation })).toEqual({ ok: true, name: "good", hasMatchFunction: false });
    const bad = await validateBundle("bad", `var __edgeAlarmHandler = { default: { match: "Warning", handle() {} } };`, { isolation });
    expect(bad).toEqual({ ok: false, name: "bad", error: "handler 'bad': match must be a MatchSpec object or a function, got string" });
    expect(await settledThreads(idle)).toBe(idle);
  });
});
