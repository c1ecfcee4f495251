import { describe, expect, it } from "vitest";
import { GuestHeapExhausted, instantiateQuickJS } from "../../../dispatcher/sandbox/quickjs-module.ts";
import { compileQuickJS, defaultWasmUrl } from "../../../dispatcher/sandbox/wasm-file.ts";

const FILL_HEAP = `
  globalThis.keep = [];
  try { for (;;) keep.push("x".repeat(65536) + keep.length); } catch (e) { globalThis.first = String(e); }
  try { for (;;) keep.push({ i: keep.length }); } catch (e) { globalThis.second = String(e); }
  0`;

describe("instantiateQuickJS", () => {
  it("caps the heap at the memory maximum and turns a failed host allocation into an exception", async () => {
    const wasm = await compileQuickJS(defaultWasmUrl());
    const q = await instantiateQuickJS(wasm, 272); // 17 MiB
    expect(q.isNearlyFull()).toBe(false);
    const ctx = q.module.newContext();
    ctx.evalCode(FILL_HEAP, "fill.js", { type: "global" });
    expect(q.nearMaximum()).toBe(true);
    expect(q.isNearlyFull()).toBe(true);
    // Unguarded, quickjs-emscripten would write this string at address 0 and corrupt the heap.
    expect(() => ctx.newString("y".repeat(200_000))).toThrow(GuestHeapExhausted);
  });

  it("gives each instance its own memory: a full one does not affect a new one", async () => {
    const wasm = await compileQuickJS(defaultWasmUrl());
    const full = await instantiateQuickJS(wasm, 272);
    const fullCtx = full.module.newContext();
    fullCtx.evalCode(FILL_HEAP, "fill.js", { type: "global" });
    expect(full.isNearlyFull()).toBe(true);
    const fresh = await instantiateQuickJS(wasm, 272);
    const ctx = fresh.module.newContext();
    const r = ctx.evalCode(`"ok:" + "y".repeat(100000).length`, "fresh.js", { type: "global" });
    expect(r.error ? "failed" : ctx.getString(r.value)).toBe("ok:100000");
    expect(fresh.isNearlyFull()).toBe(false);
  });
});
