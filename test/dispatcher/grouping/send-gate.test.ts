import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextTokenAt, planSendTimes, tokensAt, withinLimits } from "../../../dispatcher/grouping/send-gate.ts";

const limits = { perSecond: 5, perMinute: 100 };
const storm = { digestGroups: 2, burst: 5, periodMs: 60_000 };

describe("send gate", () => {
  it("places a burst of cards at 5 per second until the minute is full, then waits for the window", () => {
    const times = planSendTimes([], 130, 0, limits);
    expect(times.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 1000]);
    expect(times[99]).toBe(19_000);
    expect(times[100]).toBe(60_000);
    expect(withinLimits(times, limits)).toBe(true);
  });

  it("keeps both limits for any history and any request (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5_000), { maxLength: 60 }), fc.array(fc.tuple(fc.nat(3_000), fc.integer({ min: 1, max: 12 })), { maxLength: 20 }), (gaps, requests) => {
        let sent: number[] = [];
        let now = 0;
        for (const [i, [gap, n]] of requests.entries()) {
          now += gap + (gaps[i] ?? 0);
          const planned = planSendTimes(sent, n, now, limits);
          expect(planned.every((t) => t >= now)).toBe(true);
          sent = [...sent, ...planned];
        }
        expect(withinLimits(sent, limits)).toBe(true);
      }),
    );
  });

  it("refills the storm budget one token per period up to the burst", () => {
    expect(tokensAt(0, 0, 30_000, storm)).toBe(0.5);
    expect(tokensAt(0, 0, 10 * 60_000, storm)).toBe(5);
    expect(nextTokenAt(0, 1_000, storm)).toBe(61_000);
    expect(nextTokenAt(2, 1_000, storm)).toBe(1_000);
  });

  it("withinLimits catches a sixth card in a second and a 101st in a minute", () => {
    expect(withinLimits([0, 100, 200, 300, 400, 999], limits)).toBe(false);
    expect(withinLimits(Array.from({ length: 101 }, (_, i) => i * 590), limits)).toBe(false);
  });
});
