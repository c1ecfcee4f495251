import { beforeAll, describe, expect, it } from "vitest";
import { classify, HandlerVm } from "../../../dispatcher/sandbox/handler-vm.ts";
import { resolveOptions } from "../../../dispatcher/sandbox/options.ts";
import { compileQuickJS, defaultWasmUrl, type WasmModule } from "../../../dispatcher/sandbox/wasm-file.ts";
import { createContext } from "../../../dispatcher/time-format.ts";
import { inlineBundle, warningEvent } from "./bundles.ts";

const event = warningEvent();
const eventJson = JSON.stringify(event);
const limits = resolveOptions({}).limits;

describe("classify", () => {
  it.each([
    [{ name: "InternalError", message: "interrupted" }, "timeout"],
    [{ name: "InternalError", message: "out of memory" }, "oom"],
    [{ name: "InternalError", message: "stack overflow" }, "stack"],
    [{ name: "SyntaxError", message: "stack overflow" }, "stack"],
    [{ name: "Error", message: "out of memory" }, "throw"],
    [{ name: "TypeError", message: "x is undefined" }, "throw"],
  ])("%j is %s", (error, kind) => {
    expect(classify(error)).toBe(kind);
  });
});

describe("HandlerVm", () => {
  let wasm: WasmModule;
  beforeAll(async () => {
    wasm = await compileQuickJS(defaultWasmUrl());
  });

  it("formats times near now inside QuickJS and falls back to the host for others", async () => {
    const { vm } = await HandlerVm.create("fmt", inlineBundle(`{ handle(e, ctx) { return { card: { t: ctx.formatTime(e.lastTimestamp, "zoned") } }; } }`), wasm, limits);
    if (!vm) throw new Error("did not load");
    const ctx = { cluster: "c", timezone: "Asia/Shanghai" };
    const expected = createContext({ ...ctx, now: event.lastTimestamp, handler: "fmt" }).formatTime(event.lastTimestamp, "zoned");

    const near = vm.call(eventJson, { ...ctx, now: event.lastTimestamp });
    expect(near.ok && JSON.parse(near.envelope)).toEqual({ r: { card: { t: expected } } });
    expect(vm.hostFormatCalls).toBe(0);

    // Years away from now: outside the zone table, so the host formats it (same text).
    const far = vm.call(eventJson, { ...ctx, now: "2031-01-01T00:00:00Z" });
    expect(far.ok && JSON.parse(far.envelope)).toEqual({ r: { card: { t: expected } } });
    expect(vm.hostFormatCalls).toBe(1);

    // No zone table at all (now is not a time): everything goes to the host.
    const noTable = vm.call(eventJson, { ...ctx, now: "not a time" });
    expect(noTable.ok && JSON.parse(noTable.envelope)).toEqual({ r: { card: { t: expected } } });
    expect(vm.hostFormatCalls).toBe(2);
  });

  // Timing on a shared 2-core machine: a descheduled worker thread counts as guest time, so one
  // retry keeps a noisy neighbour from failing it; a real regression fails every attempt.
  it("does not count host formatting time against the handler's deadline", { retry: 2 }, async () => {
    const deadlineMs = 40;
    const { vm } = await HandlerVm.create(
      "host-heavy",
      // Times outside the zone table go to the host: ~20 µs each there, ~1 µs of guest time.
      inlineBundle(`{ handle(e, ctx) { let t; for (let i = 0; i < e.count; i++) t = ctx.formatTime("1999-01-01T00:00:00Z"); return { card: { t } }; } }`),
      wasm,
      { ...limits, deadlineMs },
    );
    if (!vm) throw new Error("did not load");
    const ctx = { cluster: "c", timezone: "Asia/Shanghai", now: "2026-01-01T00:00:00Z" };
    // Grow the work until the call takes 1.2x the deadline in total: were host time counted, it would
    // have been interrupted at 1x. (Not more: the glue around each host call is guest time, about half
    // of the total, and a busy CI machine adds descheduled time to it.)
    let longest = 0;
    for (let count = 200; longest <= 1.2 * deadlineMs * 1000 && count <= 200_000; count = Math.ceil(count * 1.3)) {
      const outcome = vm.call(JSON.stringify({ ...event, count }), ctx);
      expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
      longest = Math.max(longest, outcome.micros);
    }
    expect(longest).toBeGreaterThan(1.2 * deadlineMs * 1000);
    expect(vm.hostFormatCalls).toBeGreaterThanOrEqual(200); // the times really went to the host
  });

  it("reports a load failure with logs printed before it", async () => {
    const loaded = await HandlerVm.create("noisy", `console.log("loading"); var __edgeAlarmHandler = { default: {} };`, wasm, limits);
    expect(loaded.vm).toBeUndefined();
    expect(loaded.result).toEqual({ ok: false, name: "noisy", error: "handler 'noisy': the default export has no handle() function" });
    expect(loaded.logs).toEqual([{ level: "log", message: "loading" }]);
  });
});
