import { describe, expect, it } from "vitest";
import { DEFAULTS, MAX_STACK_BYTES, MIN_MEMORY_PAGES, WASM_PAGE_BYTES, resolveOptions } from "../../../dispatcher/sandbox/options.ts";

describe("resolveOptions", () => {
  it("uses the documented defaults", () => {
    const { limits, hardTimeoutMs } = resolveOptions({});
    expect(hardTimeoutMs).toBe(DEFAULTS.hardTimeoutMs);
    expect(limits.memoryPages * WASM_PAGE_BYTES).toBe(DEFAULTS.memoryBytes);
    expect(limits.stackBytes).toBe(DEFAULTS.stackBytes);
    expect(limits.deadlineMs).toBe(DEFAULTS.deadlineMs);
    expect(limits.maxResultBytes).toBe(DEFAULTS.maxResultBytes);
    expect(limits.loadDeadlineMs).toBeLessThan(hardTimeoutMs);
  });

  it("clamps the stack to 64 KiB, where QuickJS still catches every overflow itself", () => {
    expect(resolveOptions({ stackBytes: 1 << 20 }).limits.stackBytes).toBe(MAX_STACK_BYTES);
    expect(resolveOptions({ stackBytes: 32 * 1024 }).limits.stackBytes).toBe(32 * 1024);
  });

  it("rounds memory up to whole pages and never below the module's 256 initial pages", () => {
    expect(resolveOptions({ memoryBytes: 1 }).limits.memoryPages).toBe(MIN_MEMORY_PAGES);
    expect(resolveOptions({ memoryBytes: 20 * 1024 * 1024 + 1 }).limits.memoryPages).toBe(321);
  });

  it("refuses nonsense with a message naming the option", () => {
    expect(() => resolveOptions({ deadlineMs: 0 })).toThrow(/deadlineMs/);
    expect(() => resolveOptions({ hardTimeoutMs: Number.NaN })).toThrow(/hardTimeoutMs/);
  });
});
