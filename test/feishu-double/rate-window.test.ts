import { describe, expect, it } from "vitest";
import { createRateWindow } from "./rate-window.ts";

function fill(window: ReturnType<typeof createRateWindow>, times: number[]): void {
  for (const t of times) {
    expect(window.allows(t)).toBe(true);
    window.record(t);
  }
}

describe("rate window", () => {
  it("admits 5 in any second, and a sixth once the first is a full second old", () => {
    const w = createRateWindow({ perSecond: 5, perMinute: 100 });
    fill(w, [0, 100, 200, 300, 400]);
    expect(w.allows(999)).toBe(false);
    expect(w.allows(1000)).toBe(true);
  });

  it("admits 100 in any minute, however they are spread", () => {
    const w = createRateWindow({ perSecond: 5, perMinute: 100 });
    const times = Array.from({ length: 100 }, (_, i) => i * 300); // 3.33/s, inside the 5/s limit
    fill(w, times);
    expect(w.allows(30_000)).toBe(false);
    expect(w.allows(59_999)).toBe(false);
    expect(w.allows(60_000)).toBe(true); // the message at t=0 has left the window
  });

  it("starts over after clear", () => {
    const w = createRateWindow({ perSecond: 1, perMinute: 1 });
    fill(w, [0]);
    expect(w.allows(10)).toBe(false);
    w.clear();
    expect(w.allows(10)).toBe(true);
  });
});
