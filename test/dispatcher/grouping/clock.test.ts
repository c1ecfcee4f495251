import { describe, expect, it } from "vitest";
import { systemClock, VirtualClock } from "../../../dispatcher/grouping/clock.ts";
import { Grouper } from "../../../dispatcher/grouping/grouper.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import { event, input, settingsWith } from "./helpers.ts";
import { quietLogger } from "./storm-kit.ts";

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

describe("systemClock", () => {
  it("runs a timer on the wall clock and reports its failure instead of throwing", async () => {
    const errors: unknown[] = [];
    const clock = systemClock((err) => errors.push(err));
    const ran = new Promise<number>((resolve) => clock.schedule(Date.now() + 30, async () => resolve(Date.now())));
    const cancelled = clock.schedule(Date.now() + 10, async () => void errors.push("should not run"));
    cancelled();
    clock.schedule(Date.now(), async () => {
      throw new Error("timer failed");
    });
    const at = await ran;
    expect(at).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("timer failed");
  });

  it("drives a grouper in real time: the first card comes group_wait after the alarm", async () => {
    const sent: Delivery[] = [];
    const grouper = await Grouper.open({
      cluster: "edge", timezone: "UTC", logger: quietLogger(), clock: systemClock((err) => { throw err; }),
      deliver: (d) => void sent.push(d), settings: settingsWith({ timing: { waitMs: 50 } }),
    });
    const t0 = Date.now();
    await grouper.add(input(event()));
    while (sent.length === 0 && Date.now() - t0 < 2_000) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(sent).toHaveLength(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    await grouper.close();
  });
});
