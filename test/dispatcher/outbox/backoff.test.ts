import { describe, expect, it } from "vitest";
import { avoidMinuteMarks, nearMinuteMark, retryDelayMs } from "../../../dispatcher/outbox/backoff.ts";

describe("backoff", () => {
  it("grows exponentially with equal jitter, capped per cause", () => {
    expect(retryDelayMs(1, "offline", () => 0)).toBe(500);
    expect(retryDelayMs(1, "offline", () => 0.999_999)).toBeCloseTo(1000, 0);
    expect(retryDelayMs(4, "service", () => 0)).toBe(4000);
    expect(retryDelayMs(40, "offline", () => 1)).toBe(120_000);
    expect(retryDelayMs(40, "rate", () => 0)).toBe(30_000);
  });

  it("a rate-limit answer never leads to a retry within a second", () => {
    for (let f = 1; f < 10; f++) expect(retryDelayMs(f, "rate", () => 0)).toBeGreaterThanOrEqual(1000);
  });

  it("keeps off :00 and :30 (10 s before to 30 s after), to a jittered moment after", () => {
    const at = (h: number, m: number, s: number) => Date.UTC(2025, 5, 1, h, m, s);
    expect(nearMinuteMark(at(10, 0, 5))).toBe(true);
    expect(nearMinuteMark(at(10, 29, 55))).toBe(true);
    expect(nearMinuteMark(at(10, 30, 29))).toBe(true);
    expect(nearMinuteMark(at(10, 30, 30))).toBe(false);
    expect(nearMinuteMark(at(10, 15, 0))).toBe(false);
    expect(avoidMinuteMarks(at(10, 15, 0), () => 0.5)).toBe(at(10, 15, 0));
    expect(avoidMinuteMarks(at(10, 59, 58), () => 0)).toBe(at(11, 0, 30));
    expect(avoidMinuteMarks(at(10, 30, 2), () => 1)).toBe(at(10, 30, 45));
    for (let s = -10; s < 30; s++) expect(nearMinuteMark(avoidMinuteMarks(at(11, 0, 0) + s * 1000, Math.random))).toBe(false);
  });
});
