import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRateGate } from "../../../dispatcher/outbox/rate-gate.ts";
import { maxInWindow } from "./helpers.ts";

describe("rate gate", () => {
  it("allows 5 at once, then waits for the second to pass", () => {
    const gate = createRateGate({ perSecond: 5, perMinute: 100 });
    for (let i = 0; i < 5; i++) gate.acquire(1000).finish(1000);
    expect(gate.available(1000)).toBe(0);
    expect(gate.waitMs(1000)).toBe(1000);
    expect(gate.waitMs(1999)).toBe(1);
    expect(gate.waitMs(2000)).toBe(0);
  });

  it("100 a minute with no burst beyond it, unlike a token bucket", () => {
    const gate = createRateGate({ perSecond: 5, perMinute: 100 });
    let t = 0;
    const sent: number[] = [];
    while (sent.length < 250) {
      const wait = gate.waitMs(t);
      if (wait > 0) {
        t += wait;
        continue;
      }
      gate.acquire(t).finish(t);
      sent.push(t);
    }
    expect(maxInWindow(sent, 60_000)).toBe(100);
    expect(maxInWindow(sent, 1000)).toBe(5);
  });

  it("a send in flight counts; a cancelled one (never sent) does not", () => {
    const gate = createRateGate({ perMinute: 2 });
    const a = gate.acquire(0);
    gate.acquire(0).cancel();
    expect(gate.available(0)).toBe(1);
    const b = gate.acquire(0);
    expect(gate.available(0)).toBe(0);
    expect(gate.waitMs(0)).toBeGreaterThan(0);
    a.finish(10);
    b.finish(20);
    expect(gate.waitMs(30)).toBe(60_000 + 10 - 30);
  });

  it("property: measured from answers, the service never counts more than the limit, whatever the latency", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 300 }), (latencies) => {
        const gate = createRateGate({ perSecond: 5, perMinute: 20 });
        let t = 0;
        const arrivals: number[] = [];
        for (const latency of latencies) {
          t += gate.waitMs(t);
          const slot = gate.acquire(t);
          // The request arrives somewhere between start and answer.
          arrivals.push(t + latency / 2);
          t += latency;
          slot.finish(t);
        }
        return maxInWindow(arrivals, 1000) <= 5 && maxInWindow(arrivals, 60_000) <= 20;
      }),
      { numRuns: 200 },
    );
  });
});
