import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../dispatcher/log.ts";
import type { Delivery } from "../../dispatcher/pipeline/pipeline.ts";
import { createSelfAlarms, parseSelfAlarmKinds, parseTimeOfDay, SELF_ALARM_KINDS, type SelfAlarmKind, type SelfAlarmsOptions } from "../../dispatcher/self-alarms.ts";
import { shapeError, visibleText } from "../feishu-double/message-shape.ts";

const logger = createLogger({ level: "silent" });
const MIN = 60_000;

function setup(overrides: Partial<SelfAlarmsOptions> = {}, kinds: readonly SelfAlarmKind[] = SELF_ALARM_KINDS) {
  const sent: Delivery[] = [];
  const world = {
    now: Date.parse("2026-11-20T00:30:00Z"), // 08:30 in Asia/Shanghai
    handlers: {} as Record<string, { calls: number; failures: Partial<Record<string, number>> }>,
    outbox: { online: true, pending: 0, deadLetters: 0 },
    pipeline: { events: 0, alarms: 0, handlerErrors: 0 },
  };
  const alarms = createSelfAlarms({
    cluster: "pi-edge-7",
    timezone: "Asia/Shanghai",
    kinds: new Set(kinds),
    version: "1.2.3",
    logger,
    clock: () => world.now,
    deliver: async (d) => void sent.push(d),
    sources: { handlers: () => world.handlers, outbox: () => world.outbox, pipeline: () => world.pipeline },
    ...overrides,
  });
  /** Title and text of each card sent, as a reader sees it: entities decoded, bold markers dropped. */
  const texts = () =>
    sent.map((d) =>
      visibleText(d.body as unknown as Parameters<typeof visibleText>[0])
        .join("\n")
        .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
        .replaceAll("**", ""),
    );
  return { alarms, sent, world, texts };
}

function expectValidCards(sent: Delivery[]): void {
  for (const d of sent) {
    expect(shapeError(d.body as unknown as Parameters<typeof shapeError>[0]), JSON.stringify(d.body)).toBeNull();
    expect(d.handler).toBe("edge-alarm");
    expect(d.json).toBe(JSON.stringify(d.body));
  }
}

async function stateDir(content?: object): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-self-"));
  if (content) await writeFile(path.join(dir, "self-alarms.json"), JSON.stringify(content));
  return dir;
}

describe("settings", () => {
  it("parses self-alarm kinds, defaulting to all but the heartbeat", () => {
    expect([...parseSelfAlarmKinds(undefined).kinds]).toEqual(["started", "online", "handler"]);
    expect([...parseSelfAlarmKinds("all").kinds].sort()).toEqual([...SELF_ALARM_KINDS].sort());
    expect(parseSelfAlarmKinds("none").kinds.size).toBe(0);
    expect([...parseSelfAlarmKinds(" heartbeat , started ").kinds]).toEqual(["heartbeat", "started"]);
    expect(parseSelfAlarmKinds("started,bogus").problems).toEqual([expect.stringContaining('unknown kind "bogus"')]);
  });

  it("parses the heartbeat time", () => {
    expect(parseTimeOfDay("09:00")).toEqual({ time: "09:00", problems: [] });
    expect(parseTimeOfDay("")).toEqual({ time: undefined, problems: [] });
    expect(parseTimeOfDay("9am").problems[0]).toMatch(/HH:MM/);
    expect(parseTimeOfDay("24:00").problems).toHaveLength(1);
  });
});

describe("construction", () => {
  it("reads no source until the first check, so it can be built before the parts it reads", () => {
    const boom = () => {
      throw new Error("not built yet");
    };
    expect(() => createSelfAlarms({ cluster: "c", timezone: "UTC", kinds: new Set(SELF_ALARM_KINDS), version: "1", logger, deliver: async () => {}, sources: { handlers: boom, outbox: boom, pipeline: boom } })).not.toThrow();
  });
});

describe("start and back online", () => {
  it("announces a start with version and handlers", async () => {
    const { alarms, sent, texts } = setup({ stateDir: await stateDir() });
    await alarms.started(["default", "node-down"]);
    expect(sent).toHaveLength(1);
    expectValidCards(sent);
    expect(texts()[0]).toContain("edge-alarm started on pi-edge-7");
    expect(texts()[0]).toContain("1.2.3");
    expect(texts()[0]).toContain("default, node-down");
    expect(texts()[0]).toContain("2026-11-20 08:30:00"); // local time in the footer and fields
  });

  it("says how long it was down when the last alive time is older than the threshold", async () => {
    const { alarms, sent, texts, world } = setup({ stateDir: await stateDir({ aliveAt: new Date(Date.parse("2026-11-20T00:30:00Z") - 47 * MIN).toISOString() }) });
    await alarms.started(["default"]);
    expect(sent).toHaveLength(1);
    expectValidCards(sent);
    expect(texts()[0]).toContain("edge-alarm back online on pi-edge-7 after 47 min");
    expect(texts()[0]).toContain("not running");
    expect(world.now).toBeGreaterThan(0);
  });

  it("records a clean stop, and says 'stopped' after a long planned down time", async () => {
    const dir = await stateDir();
    const first = setup({ stateDir: dir });
    await first.alarms.started(["default"]);
    await first.alarms.stop();
    expect(JSON.parse(await readFile(path.join(dir, "self-alarms.json"), "utf8"))).toMatchObject({ cleanStop: true });
    const second = setup({ stateDir: dir });
    second.world.now += 3 * 60 * MIN;
    await second.alarms.started(["default"]);
    expect(second.texts()[0]).toContain("after 3 h 0 min");
    expect(second.texts()[0]).toContain("was stopped");
  });

  it("does not invent a duration when the clock went backwards (a Pi without RTC before NTP)", async () => {
    const { alarms, texts } = setup({ stateDir: await stateDir({ aliveAt: "2026-11-21T00:00:00Z" }) });
    await alarms.started(["default"]);
    expect(texts()[0]).toContain("edge-alarm back online on pi-edge-7");
    expect(texts()[0]).not.toMatch(/after \d/);
    expect(texts()[0]).toContain("unknown time");
  });

  it("sends nothing for kinds that are off", async () => {
    const down = { aliveAt: new Date(Date.parse("2026-11-20T00:30:00Z") - 60 * MIN).toISOString() };
    const onlyStarted = setup({ stateDir: await stateDir(down) }, ["started"]);
    await onlyStarted.alarms.started(["default"]);
    expect(onlyStarted.texts()).toEqual([expect.stringContaining("edge-alarm started on")]);
    const none = setup({ stateDir: await stateDir(down) }, []);
    await none.alarms.started(["default"]);
    expect(none.sent).toHaveLength(0);
  });
});

describe("handler problems", () => {
  it("reports a rejected bundle once per cooldown, naming the handler", async () => {
    const { alarms, sent, texts, world } = setup();
    const problem = "handler node-down: SyntaxError: unexpected token (keeping the previous version)";
    await alarms.handlerRejected(problem);
    await alarms.handlerRejected(problem);
    expect(sent).toHaveLength(1);
    expectValidCards(sent);
    expect(texts()[0]).toContain("handler node-down rejected on pi-edge-7");
    expect(texts()[0]).toContain("SyntaxError");
    world.now += 61 * MIN;
    await alarms.handlerRejected(problem);
    expect(sent).toHaveLength(2);
  });

  it("reports a handler failing at the threshold within the window, once per cooldown", async () => {
    const { alarms, sent, texts, world } = setup({ failingThreshold: 5, failingWindowMs: 10 * MIN, cooldownMs: 60 * MIN });
    world.handlers = { "slow@aaaaaaaaaaaa": { calls: 10, failures: { timeout: 3 } } };
    await alarms.check();
    world.now += MIN;
    world.handlers = { "slow@aaaaaaaaaaaa": { calls: 12, failures: { timeout: 4 } } };
    await alarms.check();
    expect(sent).toHaveLength(0); // 4 failures: under the threshold
    world.now += MIN;
    // A new version loads: its counters start from zero, and its failure still counts.
    world.handlers = { "slow@aaaaaaaaaaaa": { calls: 12, failures: { timeout: 4 } }, "slow@bbbbbbbbbbbb": { calls: 1, failures: { throw: 1 } } };
    await alarms.check();
    expect(sent).toHaveLength(1);
    expectValidCards(sent);
    expect(texts()[0]).toContain("handler slow failing on pi-edge-7");
    expect(texts()[0]).toContain("failed 5 of 13 calls");
    expect(texts()[0]).toContain("timeout 4, throw 1");
    world.now += MIN;
    world.handlers = { "slow@bbbbbbbbbbbb": { calls: 20, failures: { throw: 19 } } };
    await alarms.check();
    expect(sent).toHaveLength(1); // cooling down
  });

  it("forgets failures older than the window", async () => {
    const { alarms, sent, world } = setup({ failingThreshold: 5, failingWindowMs: 10 * MIN });
    world.handlers = { "h@1": { calls: 4, failures: { throw: 4 } } };
    await alarms.check();
    world.now += 11 * MIN;
    world.handlers = { "h@1": { calls: 5, failures: { throw: 5 } } };
    await alarms.check();
    expect(sent).toHaveLength(0);
  });
});

describe("webhook outage", () => {
  it("leaves it to the outbox, which announces a channel coming back itself", async () => {
    const { alarms, sent, world } = setup({ offlineAfterMs: 5 * MIN });
    world.outbox = { online: false, pending: 5, deadLetters: 0 };
    await alarms.check();
    world.now += 12 * MIN;
    world.outbox = { online: true, pending: 9, deadLetters: 0 };
    await alarms.check();
    expect(sent).toHaveLength(0);
  });
});

describe("daily heartbeat", () => {
  it("sends once a day at the local time, with the counts since the last one", async () => {
    const dir = await stateDir();
    const { alarms, sent, texts, world } = setup({ heartbeatAt: "09:00", stateDir: dir });
    await alarms.check(); // 08:30 local
    expect(sent).toHaveLength(0);
    world.now += 30 * MIN; // 09:00 local
    world.pipeline = { events: 120, alarms: 7, handlerErrors: 1 };
    await alarms.check();
    expect(sent).toHaveLength(1);
    expectValidCards(sent);
    expect(texts()[0]).toContain("edge-alarm on pi-edge-7 is alive");
    expect(texts()[0]).toContain("120");
    world.now += 60 * MIN;
    await alarms.check();
    expect(sent).toHaveLength(1);
    world.now += 23 * 60 * MIN; // 09:00 the next day
    world.pipeline = { events: 150, alarms: 9, handlerErrors: 1 };
    await alarms.check();
    expect(sent).toHaveLength(2);
    expect(texts()[1]).toMatch(/Events:.*30/s);
    expect(JSON.parse(await readFile(path.join(dir, "self-alarms.json"), "utf8"))).toMatchObject({ heartbeatDate: "2026-11-21" });
  });

  it("does not send a heartbeat right after a start past the hour: the start card is that day's sign of life", async () => {
    const { alarms, sent, world } = setup({ heartbeatAt: "08:00", stateDir: await stateDir() });
    await alarms.started(["default"]);
    world.now += MIN;
    await alarms.check();
    expect(sent).toHaveLength(1);
  });
});

describe("escaping", () => {
  it("never lets a handler problem inject Markdown", async () => {
    const { alarms, sent } = setup();
    await alarms.handlerRejected("handler x: [click](http://evil.example) <at id=all></at>");
    const json = sent[0]?.json ?? "";
    expect(json).not.toContain("[click](http");
    expect(json).not.toContain("<at id=all>");
  });
});
