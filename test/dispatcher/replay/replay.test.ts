import { describe, expect, it } from "vitest";
import type { InputItem } from "../../../dispatcher/replay/read-events.ts";
import { replay } from "../../../dispatcher/replay/replay.ts";
import defaultHandler from "../../../handlers/default.ts";
import { plainHost } from "../../plain-host.ts";
import { quietLogger } from "../grouping/storm-kit.ts";

const T0 = Date.parse("2026-11-20T06:00:00Z");
const bump = (pod: string, count: number, ms: number): InputItem => ({
  type: count === 1 ? "ADDED" : "MODIFIED",
  where: `t+${ms}`,
  object: {
    metadata: { name: `${pod}.1`, namespace: "iot", uid: `uid-${pod}` },
    involvedObject: { kind: "Pod", namespace: "iot", name: pod },
    reason: "BackOff", type: "Warning", message: "Back-off restarting failed container", count,
    firstTimestamp: new Date(T0).toISOString(), lastTimestamp: new Date(T0 + ms).toISOString(),
  },
});

function run(items: InputItem[], grouping?: false) {
  const { host, loaded } = plainHost({ default: defaultHandler });
  return replay(items, { host, handlers: loaded, cluster: "edge", timezone: "UTC", logger: quietLogger(), ...(grouping === false ? { grouping } : {}) });
}

describe("replay with grouping on the virtual clock", () => {
  // Two crash-looping pods of one Deployment, bumped every 15 s for an hour and a half.
  const items: InputItem[] = [];
  for (let i = 0; i < 360; i++) for (const pod of ["web-7d4b9c6f8d-q7r8s", "web-7d4b9c6f8d-m4n5p"]) items.push(bump(pod, i + 1, i * 15_000));

  it("summarises groups and suppressed occurrences, and runs the clock on to the last repeat", async () => {
    const { summary, deliveries } = await run(items);
    expect(summary).toMatchObject({ events: 720, alarms: 2, groups: 1, requests: deliveries.length, handlerErrors: 0 });
    expect(deliveries.map((d) => [d.kind, d.at])).toEqual([
      ["first", new Date(T0 + 1_000).toISOString()],
      ["repeat", new Date(T0 + 1_000 + 3_600_000).toISOString()],
    ]);
    expect(summary.suppressed).toBe(720 - deliveries.length);
    expect(summary.bytes).toBe(deliveries.reduce((n, d) => n + d.bytes, 0));
  });

  it("without grouping: one request per alarm, repeats dropped as before", async () => {
    const { summary } = await run(items, false);
    expect(summary).toMatchObject({ alarms: 2, requests: 2, groups: 0, suppressed: 0 });
  });
});
