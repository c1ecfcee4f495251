/**
 * The headline scenario, in virtual time: the link is down for 60 minutes while a storm
 * of 300 warnings arrives, then comes back. Every alarm must arrive (in digests), the double must
 * never see more than 5 requests in a second or 100 in a minute, and the numbers are printed for
 * the closing note. Time is virtual: the outbox, the sink's signatures and the double share one
 * clock the test advances to the next due moment, so an hour takes a second or two.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutbox, type Outbox } from "../../../dispatcher/outbox/outbox.ts";
import { createFeishuSink } from "../../../dispatcher/sinks/feishu.ts";
import { createWeComSink } from "../../../dispatcher/sinks/wecom.ts";
import { startRobotDouble } from "../../robot-doubles/robot-double.ts";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { startFeishuDouble, type FeishuDouble } from "../../feishu-double/double.ts";
import { captureLog, cardText, makeDelivery, maxInWindow, seededRandom } from "./helpers.ts";

const TOKEN = randomUUID();
const SECRET = `SEC${randomUUID().replaceAll("-", "")}`;
// 14:02 in Asia/Shanghai.
const T0 = Date.UTC(2025, 5, 1, 6, 2, 0);
const MINUTE = 60_000;

let now = T0;
let double: FeishuDouble;
let stateDir: string;

beforeAll(async () => {
  double = await startFeishuDouble({ clock: () => now, bots: { [TOKEN]: { secret: SECRET } } });
  stateDir = await mkdtemp(path.join(tmpdir(), "edge-alarm-outage-"));
});
afterAll(async () => {
  await double.close();
  await rm(stateDir, { recursive: true, force: true });
});

interface Link {
  down(): Promise<void>;
  up(): Promise<void>;
}

interface Scenario {
  alarms: number;
  /** The Feishu double's link by default. */
  link?: Link;
  /** Virtual time of alarm i. */
  alarmAt(i: number): number;
  downFrom?: number;
  upAt?: number;
}

/** Runs the scenario to the end (all delivered) and returns what happened. */
async function run(s: Scenario, outbox: Outbox): Promise<{ upAt: number; end: number; iterations: number }> {
  let next = 0;
  let down = false;
  let iterations = 0;
  const link = s.link ?? { down: () => double.fault({ kind: "link-down" }), up: () => double.clearFaults() };
  for (;;) {
    if (++iterations > 50_000) throw new Error("virtual time loop did not settle");
    if (s.downFrom !== undefined && !down && now >= s.downFrom && (s.upAt === undefined || now < s.upAt)) {
      await link.down();
      down = true;
    }
    if (down && s.upAt !== undefined && now >= s.upAt) {
      await link.up();
      down = false;
    }
    while (next < s.alarms && s.alarmAt(next) <= now) await outbox.enqueue(makeDelivery(next++));
    const due = await outbox.pump();
    if (next >= s.alarms && !down && outbox.stats().pending === 0) return { upAt: s.upAt ?? s.alarmAt(0), end: now, iterations };
    const upcoming = [due, next < s.alarms ? s.alarmAt(next) : Infinity, down && s.upAt !== undefined ? s.upAt : Infinity];
    now = Math.max(now + 1, Math.min(...upcoming));
  }
}

function sink(): Sink {
  return createFeishuSink({ webhook: double.url(TOKEN), secret: SECRET, logger: captureLog("warn").logger, clock: () => now, timeoutMs: 3000 });
}

describe("outbox: a 60-minute outage during a storm of 300 warnings", () => {
  it("delivers every alarm in digests after the link returns, within 5/s and 100/min", async () => {
    await double.reset();
    now = T0;
    const log = captureLog("info");
    const s = sink();
    const outbox = await createOutbox({
      stateDir,
      sinks: new Map([["default", s]]),
      logger: log.logger,
      clock: () => now,
      random: seededRandom(7),
      timezone: "Asia/Shanghai",
    });
    const scenario: Scenario = { alarms: 300, alarmAt: (i) => T0 + i * 12_000, downFrom: T0, upAt: T0 + 60 * MINUTE };
    const { upAt, end } = await run(scenario, outbox);
    const stats = outbox.stats();
    await outbox.stop();
    await s.close();

    const accepted = double.accepted(TOKEN);
    const requests = double.requests(TOKEN);
    const text = accepted.map((m) => cardText(m.body)).join("\n");
    // Every alarm arrived, by fingerprint, and none was folded or dropped.
    for (let i = 0; i < 300; i++) expect(text).toContain(`fp${String(i).padStart(10, "0")}`);
    expect(stats).toMatchObject({ pending: 0, deadLetters: 0, folded: 0, alarmsDelivered: 300, online: true });
    // One notice and a handful of digests, not 300 cards.
    const titles = accepted.map((m) => cardText((m.body.card as { header: unknown }).header));
    const notices = titles.filter((t) => /back online after \d+ min/.test(t));
    const digests = titles.filter((t) => /alarms while offline 14:02–15:0\d/.test(t));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/channel default back online after 6[0-3] min/);
    expect(digests.length).toBeGreaterThanOrEqual(3);
    expect(accepted).toHaveLength(notices.length + digests.length);
    // The double saw nothing beyond the limits, and nothing the signature check refused.
    const times = requests.map((r) => r.time);
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(5);
    expect(maxInWindow(times, 60_000)).toBeLessThanOrEqual(100);
    expect(requests.every((r) => r.outcome === "accepted")).toBe(true);
    for (const m of accepted) expect(Buffer.byteLength(JSON.stringify(m.body))).toBeLessThanOrEqual(20_000);

    const bytes = requests.reduce((n, r) => n + r.bytes, 0);
    const alarmBytes = Array.from({ length: 300 }, (_, i) => makeDelivery(i).bytes).reduce((a, b) => a + b, 0);
    const numbers = {
      alarms: 300,
      outageMinutes: 60,
      probesWhileDown: stats.sentByCode.transport ?? 0,
      postsAfterRecovery: requests.length,
      notices: notices.length,
      digests: digests.length,
      bytesPosted: bytes,
      bytesIfOneCardPerAlarm: alarmBytes,
      recoveryNoticedAfterSeconds: Math.round((Math.min(...times) - upAt) / 1000),
      drainedSecondsAfterLinkUp: Math.round((end - upAt) / 1000),
      spoolBytesAppended: stats.spoolIo.appendedBytes,
      spoolFsyncs: stats.spoolIo.fsyncs,
    };
    console.log(`outage numbers: ${JSON.stringify(numbers)}`);
    expect(numbers.drainedSecondsAfterLinkUp).toBeLessThanOrEqual(180);
    // Each alarm is written to the spool about once (plus a small delete record), not rewritten.
    expect(stats.spoolIo.appendedBytes).toBeLessThan(alarmBytes * 1.5);
    expect(stats.spoolIo.rewrittenBytes).toBeLessThan(alarmBytes);
  });

  it("the same outage on a WeCom robot: 20/min and 4096-byte digests", async () => {
    now = T0 + 6 * 60 * MINUTE;
    const start = now;
    const robot = await startRobotDouble({ kind: "wecom", token: "wecom-key", clock: () => now });
    const wecom = createWeComSink({ webhook: robot.url(), logger: captureLog("warn").logger, timeoutMs: 3000 });
    const outbox = await createOutbox({ sinks: new Map([["default", wecom]]), logger: captureLog("warn").logger, clock: () => now, random: seededRandom(9), timezone: "Asia/Shanghai" });
    const link: Link = { down: () => robot.fault({ kind: "link-down" }), up: () => robot.clearFaults() };
    const upAt = start + 60 * MINUTE;
    const { end } = await run({ alarms: 300, alarmAt: (i) => start + i * 12_000, downFrom: start, upAt, link }, outbox);
    const stats = outbox.stats();
    await outbox.stop();
    await wecom.close();
    await robot.close();
    const accepted = robot.accepted();
    const text = accepted.map((r) => (r.body as { markdown: { content: string } }).markdown.content).join("\n");
    for (let i = 0; i < 300; i++) expect(text).toContain(`fp${String(i).padStart(10, "0")}`);
    expect(robot.requests().every((r) => r.accepted)).toBe(true);
    expect(maxInWindow(robot.requests().map((r) => r.time), 60_000)).toBeLessThanOrEqual(20);
    expect(stats.alarmsDelivered).toBe(300);
    const numbers = { alarms: 300, posts: robot.requests().length, digests: stats.digests, bytesPosted: robot.requests().reduce((n, r) => n + r.bytes, 0), drainedSecondsAfterLinkUp: Math.round((end - upAt) / 1000) };
    console.log(`wecom outage numbers: ${JSON.stringify(numbers)}`);
  });

  it("a storm of 300 warnings within 10 s on a working link: all delivered, within the limits, coalesced", async () => {
    await double.reset();
    now = T0 + 2 * 60 * MINUTE + 5 * MINUTE;
    const start = now;
    const s = sink();
    const outbox = await createOutbox({ sinks: new Map([["default", s]]), logger: captureLog("warn").logger, clock: () => now, random: seededRandom(3) });
    const { end } = await run({ alarms: 300, alarmAt: (i) => start + Math.floor(i / 30) * 1000 }, outbox);
    const stats = outbox.stats();
    await outbox.stop();
    await s.close();
    const requests = double.requests(TOKEN);
    const text = double.accepted(TOKEN).map((m) => cardText(m.body)).join("\n");
    for (let i = 0; i < 300; i++) expect(text).toContain(`fp${String(i).padStart(10, "0")}`);
    expect(stats.alarmsDelivered).toBe(300);
    expect(maxInWindow(requests.map((r) => r.time), 1000)).toBeLessThanOrEqual(5);
    expect(maxInWindow(requests.map((r) => r.time), 60_000)).toBeLessThanOrEqual(100);
    expect(requests.every((r) => r.outcome === "accepted")).toBe(true);
    expect(requests.length).toBeLessThan(100);
    console.log(`storm numbers: ${JSON.stringify({ alarms: 300, posts: requests.length, digests: stats.digests, seconds: Math.round((end - start) / 1000) })}`);
  });

  it("recovery just after a :00 mark: the backlog waits out the busy seconds and meets no 11232", async () => {
    await double.reset();
    // Platform load: 11232 for the first 30 s of every :00 and :30 minute.
    const start = Date.UTC(2025, 5, 1, 6, 40, 0);
    now = start;
    await double.fault({ kind: "rate-limit-at-minutes", minutes: [0, 30], seconds: 30 }, TOKEN);
    const s = sink();
    const outbox = await createOutbox({ sinks: new Map([["default", s]]), logger: captureLog("warn").logger, clock: () => now, random: seededRandom(11) });
    const upAt = Date.UTC(2025, 5, 1, 7, 0, 2);
    await run({ alarms: 40, alarmAt: (i) => start + i * 20_000, downFrom: start, upAt }, outbox);
    await outbox.stop();
    await s.close();
    const requests = double.requests(TOKEN);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.code === 11232)).toEqual([]);
    for (const r of requests) expect(new Date(r.time).getUTCSeconds() >= 30 || new Date(r.time).getUTCMinutes() !== 0).toBe(true);
    expect(outbox.stats().alarmsDelivered).toBe(40);
  });
});
