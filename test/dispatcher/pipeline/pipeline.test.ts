import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import defaultHandler from "../../../handlers/default.ts";
import type { AlarmGrouper, GroupInput } from "../../../dispatcher/grouping/grouper.ts";
import { Pipeline, type Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import { createLogger } from "../../../dispatcher/log.ts";
import { defineHandler, card, div } from "../../../sdk/index.ts";
import { plainHost } from "../../plain-host.ts";

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

const warning = (count: number, last: string) => ({
  metadata: { name: "web.1", namespace: "iot", uid: "u-1" },
  involvedObject: { kind: "Pod", namespace: "iot", name: "web" },
  reason: "BackOff", type: "Warning", message: "Back-off restarting failed container", count,
  firstTimestamp: "2026-11-20T06:00:00Z", lastTimestamp: last,
});

function setup(handlers: Parameters<typeof plainHost>[0]) {
  const { host, loaded } = plainHost(handlers);
  const deliveries: Delivery[] = [];
  const { logger, lines } = capturingLogger();
  const pipeline = new Pipeline({ host, handlers: () => loaded, cluster: "edge-1", timezone: "Asia/Shanghai", logger, deliver: (d) => void deliveries.push(d) });
  return { pipeline, deliveries, lines };
}

describe("Pipeline", () => {
  it("turns a Warning into one Feishu body and a Normal into nothing", async () => {
    const { pipeline, deliveries } = setup({ default: defaultHandler });
    await pipeline.process(warning(1, "2026-11-20T06:00:00Z"), "ADDED", Date.parse("2026-11-20T06:00:01Z"));
    await pipeline.process({ ...warning(1, "2026-11-20T06:00:00Z"), type: "Normal", metadata: { uid: "u-2" } }, "ADDED", Date.parse("2026-11-20T06:00:02Z"));
    expect(deliveries).toHaveLength(1);
    const d = deliveries[0]!;
    expect(d.body.msg_type).toBe("interactive");
    expect(d.channel).toBe("default");
    expect(d.handler).toBe("default");
    expect(d.eventUid).toBe("u-1");
    expect(d.at).toBe("2026-11-20T06:00:01.000Z");
    expect(JSON.parse(d.json)).toEqual(d.body);
  });

  it("treats count bumps (MODIFIED) as one occurrence stream: five bumps, one card", async () => {
    const { pipeline, deliveries } = setup({ default: defaultHandler });
    for (let i = 1; i <= 5; i++) await pipeline.process(warning(i, `2026-11-20T06:0${i}:00Z`), i === 1 ? "ADDED" : "MODIFIED", Date.parse(`2026-11-20T06:0${i}:00Z`));
    expect(deliveries).toHaveLength(1);
    expect(pipeline.stats).toMatchObject({ events: 5, repeats: 4, alarms: 1 });
  });

  it("contains a throwing handler: logged with handler and event uid, other handlers still run", async () => {
    const boom = defineHandler({ handle: () => { throw new Error("kaput"); } });
    const ok = defineHandler({ handle: () => ({ card: card({ title: "ok", elements: [div("x")] }), channel: "ops" }) });
    const { pipeline, deliveries, lines } = setup({ boom, ok });
    await pipeline.process(warning(1, "2026-11-20T06:00:00Z"), "ADDED", 0);
    expect(deliveries.map((d) => d.channel)).toEqual(["ops"]);
    expect(pipeline.stats.handlerErrors).toBe(1);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.handler === "boom");
    expect(logged).toMatchObject({ level: 50, eventUid: "u-1", kind: "throw" });
    expect(String(logged?.msg)).toContain("kaput");
  });

  it("forgets deleted events", async () => {
    const { pipeline } = setup({ default: defaultHandler });
    await pipeline.process(warning(1, "2026-11-20T06:00:00Z"), "ADDED", 0);
    expect(pipeline.occurrences.size).toBe(1);
    await pipeline.process(warning(1, "2026-11-20T06:00:00Z"), "DELETED", 0);
    expect(pipeline.occurrences.size).toBe(0);
  });
});

describe("Pipeline with a grouper", () => {
  const grouped = async (handlers: Parameters<typeof plainHost>[0]) => {
    const { host, loaded } = plainHost(handlers);
    let calls = 0;
    const counting = { call: (...args: Parameters<typeof host.call>) => (calls++, host.call(...args)) };
    const adds: GroupInput[] = [];
    const observed: string[] = [];
    const known = new Set<string>();
    let gate: Promise<void> = Promise.resolve();
    const grouper: AlarmGrouper = {
      async add(input) {
        await gate;
        adds.push(input);
        known.add(input.event.metadata.uid);
      },
      async observe(event) {
        observed.push(`${event.metadata.uid}:${event.count}`);
        return known.has(event.metadata.uid);
      },
    };
    const { logger } = capturingLogger();
    const pipeline = new Pipeline({ host: counting, handlers: () => loaded, cluster: "edge-1", timezone: "UTC", logger, grouper, deliver: () => { throw new Error("grouped alarms are not delivered directly"); } });
    return { pipeline, adds, observed, calls: () => calls, hold: (p: Promise<void>) => void (gate = p) };
  };

  it("hands alarms to the grouper and counts repeats of an alarmed stream without calling the handler again", async () => {
    const g = await grouped({ "default@1a2b3c4d5e6f": defaultHandler });
    for (let i = 1; i <= 4; i++) await g.pipeline.process(warning(i, `2026-11-20T06:0${i}:00Z`), i === 1 ? "ADDED" : "MODIFIED", 0);
    expect(g.calls()).toBe(1);
    expect(g.adds).toHaveLength(1);
    expect(g.adds[0]).toMatchObject({ handler: "default", channel: "default", fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(g.observed).toEqual(["u-1:2", "u-1:3", "u-1:4"]);
    expect(g.pipeline.stats).toMatchObject({ events: 4, repeats: 3, alarms: 1 });
  });

  it("runs the handlers again for a repeat no group holds, so a handler can wait for a count", async () => {
    const threshold = defineHandler({ handle: (e) => (e.count >= 3 ? { card: card({ title: "x", elements: [div("x")] }) } : null) });
    const g = await grouped({ threshold });
    for (let i = 1; i <= 4; i++) await g.pipeline.process(warning(i, `2026-11-20T06:0${i}:00Z`), i === 1 ? "ADDED" : "MODIFIED", 0);
    expect(g.calls()).toBe(3); // counts 1, 2 and 3; count 4 is then held by the group
    expect(g.adds.map((a) => a.event.count)).toEqual([3]);
  });

  it("marks an event handled only once the grouper holds its alarm (a checkpoint never runs ahead of the log)", async () => {
    const g = await grouped({ default: defaultHandler });
    let release = () => {};
    g.hold(new Promise<void>((resolve) => (release = resolve)));
    const done = g.pipeline.process(warning(1, "2026-11-20T06:00:00Z"), "ADDED", 0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(g.pipeline.occurrences.size).toBe(0);
    release();
    await done;
    expect(g.pipeline.occurrences.size).toBe(1);
  });
});
