import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../dispatcher/grouping/clock.ts";

describe("VirtualClock", () => {
  it("runs due timers in time order, each awaited, including timers they schedule", async () => {
    const clock = new VirtualClock(1_000);
    const log: string[] = [];
    clock.schedule(3_000, async () => {
      log.push(`b@${clock.now()}`);
    });
    clock.schedule(2_000, async () => {
      await Promise.resolve();
      log.push(`a@${clock.now()}`);
      clock.schedule(2_500, async () => void log.push(`a2@${clock.now()}`));
    });
    const cancelled = clock.schedule(2_200, async () => void log.push("cancelled"));
    cancelled();
    await clock.advanceTo(2_900);
    expect(log).toEqual(["a@2000", "a2@2500"]);
    expect(clock.now()).toBe(2_900);
    await clock.runUntilIdle();
    expect(log).toEqual(["a@2000", "a2@2500", "b@3000"]);
    expect(clock.next).toBeUndefined();
  });

  it("refuses to spin forever on a timer that keeps rescheduling itself", async () => {
    const clock = new VirtualClock();
    const again = async (): Promise<void> => void clock.schedule(clock.now() + 1, again);
    clock.schedule(1, again);
    await expect(clock.runUntilIdle(50)).rejects.toThrow(/still busy after 50 timers/);
  });
});
