import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import defaultHandler from "../../../handlers/default.ts";
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
