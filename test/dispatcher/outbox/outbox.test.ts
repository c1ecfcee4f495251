/**
 * The outbox with the real Feishu sink against the Feishu double: every answer the double can
 * give, and what the outbox makes of it (delivered, retried, dead-lettered with a self-alarm),
 * plus routing, digest refusal, self-alarm loops and secrets. Time is virtual where the outbox
 * would wait; the double and the sink's signatures use the same clock.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOutbox, type Outbox, type OutboxOptions } from "../../../dispatcher/outbox/outbox.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import { createFeishuSink } from "../../../dispatcher/sinks/feishu.ts";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { startFeishuDouble, type BotConfig, type FeishuDouble } from "../../feishu-double/double.ts";
import { captureLog, cardText, makeDelivery, offMarkClock, runVirtual, seededRandom, virtualClock, type CapturedLog, type VirtualClock } from "./helpers.ts";

const SECRET = `SEC${randomUUID().replaceAll("-", "")}`;
const T0 = Date.UTC(2025, 5, 1, 6, 5, 0);

let double: FeishuDouble;
let clock: VirtualClock;
let log: CapturedLog;
let stateDir: string;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  clock = virtualClock(T0);
  double = await startFeishuDouble({ clock: () => clock.now() });
});
afterAll(async () => {
  await double.close();
});
beforeEach(async () => {
  clock.set(T0);
  log = captureLog("debug");
  stateDir = await mkdtemp(path.join(tmpdir(), "edge-alarm-outbox-"));
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await double.reset();
  await rm(stateDir, { recursive: true, force: true });
});

/** A bot on the double and a signed sink for it. */
function bot(config: BotConfig = {}, sinkOpts: { secret?: string; timeoutMs?: number; unsigned?: boolean } = {}): { token: string; sink: Sink } {
  const token = randomUUID();
  double.configure(token, sinkOpts.unsigned ? config : { secret: SECRET, ...config });
  const secret = sinkOpts.unsigned ? {} : { secret: sinkOpts.secret ?? SECRET };
  const sink = createFeishuSink({ webhook: double.url(token), ...secret, logger: log.logger, clock: () => clock.now(), timeoutMs: sinkOpts.timeoutMs ?? 2000 });
  cleanup.push(() => sink.close());
  return { token, sink };
}

async function outboxFor(channels: Record<string, Sink>, extra: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await createOutbox({
    stateDir,
    sinks: new Map(Object.entries(channels)),
    logger: log.logger,
    clock: () => clock.now(),
    random: seededRandom(5),
    ...extra,
  });
  cleanup.push(() => outbox.stop());
  return outbox;
}

async function deadLetters(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path.join(stateDir, "outbox", "dead-letters.jsonl"), "utf8");
  return text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A delivery whose card has no "edge-alarm" anywhere (for keyword checks). */
function plainDelivery(i: number, text = "disk pressure on node-a"): Delivery {
  const d = makeDelivery(i);
  return { ...d, body: { msg_type: "interactive", card: { header: { title: { tag: "plain_text", content: "node alarm" } }, elements: [{ tag: "div", text: { tag: "plain_text", content: text } }] } } };
}

const titleOf = (body: Record<string, unknown>): string => cardText((body.card as { header?: unknown } | undefined)?.header);

describe("outbox through the Feishu double: delivered", () => {
  it("sends a single alarm as its own card, signed, and counts it", async () => {
    const { token, sink } = bot();
    const outbox = await outboxFor({ default: sink });
    const d = makeDelivery(1);
    await outbox.enqueue(d);
    expect(outbox.stats().pending).toBe(1);
    await runVirtual(outbox, clock);
    const [msg] = double.accepted(token);
    expect(msg?.body.card).toEqual(d.body.card);
    expect(outbox.stats()).toMatchObject({ pending: 0, sent: 1, sentByCode: { "0": 1 }, alarmsDelivered: 1, digests: 0, deadLetters: 0 });
  });

  it("an alarm naming an unknown channel goes to the default channel, warned once and counted", async () => {
    const { token, sink } = bot();
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1, { channel: "no-such-team" }));
    await outbox.enqueue(makeDelivery(2, { channel: "no-such-team" }));
    await runVirtual(outbox, clock);
    expect(double.accepted(token)).toHaveLength(2);
    expect(outbox.stats().unknownChannel).toBe(2);
    expect(log.lines().filter((l) => String(l.msg).includes("not configured"))).toHaveLength(1);
  });

  it("channel names are case-insensitive and _ equals -", async () => {
    const main = bot();
    const ops = bot();
    const outbox = await outboxFor({ default: main.sink, "iot-ops": ops.sink });
    await outbox.enqueue(makeDelivery(1, { channel: "IOT_OPS" }));
    await runVirtual(outbox, clock);
    expect(double.accepted(ops.token)).toHaveLength(1);
    expect(outbox.stats().unknownChannel).toBe(0);
  });
});

describe("outbox through the Feishu double: retried", () => {
  it("11232 at the :00 mark (platform load): retried after the busy seconds, then delivered", async () => {
    const { token, sink } = bot();
    clock.set(Date.UTC(2025, 5, 1, 7, 0, 1));
    await double.fault({ kind: "rate-limit-at-minutes", minutes: [0], seconds: 20 }, token);
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1));
    await runVirtual(outbox, clock);
    const requests = double.requests(token);
    expect(requests.map((r) => r.code)).toEqual([11232, 0]);
    // The retry waited past the quiet zone around :00 (30 s), not just the backoff.
    expect(new Date(requests[1]?.time ?? 0).getUTCSeconds()).toBeGreaterThanOrEqual(30);
    expect(outbox.stats().sentByCode).toEqual({ "11232": 1, "0": 1 });
  });

  it("9499 'too many request' at HTTP 400 from a stricter bot: backs off and delivers everything", async () => {
    const { token, sink } = bot({ rate: { perSecond: 1, perMinute: 100 }, rateLimitStyle: "9499" });
    const outbox = await outboxFor({ default: sink });
    for (let i = 0; i < 3; i++) await outbox.enqueue(makeDelivery(i));
    await runVirtual(outbox, clock);
    expect(double.requests(token).some((r) => r.code === 9499 && r.httpStatus === 400)).toBe(true);
    const text = double.accepted(token).map((m) => cardText(m.body)).join("\n");
    for (let i = 0; i < 3; i++) expect(text).toContain(`fp${String(i).padStart(10, "0")}`);
    // Retries are at least a second apart after a rate-limit answer.
    const times = double.requests(token).map((r) => r.time);
    for (let i = 1; i < times.length; i++) if (double.requests(token)[i - 1]?.code === 9499) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it("a gateway 502 page: retried, delivered", async () => {
    const { token, sink } = bot();
    await double.fault({ kind: "gateway-html", status: 502, times: 2 }, token);
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1));
    await runVirtual(outbox, clock);
    expect(double.requests(token).map((r) => r.outcome)).toEqual(["gateway-html", "gateway-html", "accepted"]);
    expect(outbox.stats().sentByCode).toEqual({ "http 502": 2, "0": 1 });
  });

  it("server errors that never stop: given up after maxServiceAttempts and dead-lettered", async () => {
    const broken = bot();
    const main = bot();
    await double.fault({ kind: "gateway-html", status: 503 }, broken.token);
    const outbox = await outboxFor({ default: main.sink, ops: broken.sink }, { maxServiceAttempts: 3 });
    await outbox.enqueue(makeDelivery(1, { channel: "ops" }));
    await runVirtual(outbox, clock);
    // Three attempts for the alarm, then three for its self-alarm: 503 is not "channel unusable",
    // so the self-alarm is tried on the channel itself, fails the same way and is only logged.
    expect(double.requests(broken.token)).toHaveLength(6);
    expect(double.requests(main.token)).toHaveLength(0);
    expect(outbox.stats().deadLetters).toBe(2);
    expect((await deadLetters()).map((l) => [l.channel, l.kind, l.httpStatus])).toEqual([
      ["ops", "alarm", 503],
      ["ops", "self-alarm", 503],
    ]);
  });

  it("link down: the channel goes offline, holds the alarm, and delivers it when the link returns", async () => {
    const { token, sink } = bot();
    const outbox = await outboxFor({ default: sink });
    await double.fault({ kind: "link-down" });
    await outbox.enqueue(makeDelivery(1));
    await outbox.pump();
    expect(outbox.stats()).toMatchObject({ online: false, pending: 1, sentByCode: { transport: 1 } });
    clock.set(clock.now() + 30_000);
    await double.clearFaults();
    await runVirtual(outbox, clock);
    expect(outbox.stats().online).toBe(true);
    // Shorter than a minute: no back-online notice, just the alarm.
    expect(double.accepted(token).map((m) => titleOf(m.body))).toEqual(["edge-1 alarm"]);
  });

  it("no answer within the timeout: retried; at least once, so a duplicate is possible and recognisable", async () => {
    const { token, sink } = bot({}, { timeoutMs: 300 });
    await double.fault({ kind: "delay", ms: 700, times: 1 }, token);
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1));
    await runVirtual(outbox, clock);
    const accepted = double.accepted(token);
    expect(accepted).toHaveLength(2);
    for (const m of accepted) expect(cardText(m.body)).toContain("fingerprint fp0000000001");
  });

  it("a request that is never answered: timed out, retried, delivered", async () => {
    const { token, sink } = bot({}, { timeoutMs: 300 });
    await double.fault({ kind: "never-answer", times: 1 }, token);
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1));
    await runVirtual(outbox, clock);
    expect(double.requests(token).map((r) => r.outcome)).toEqual(["no-answer", "accepted"]);
  });

  it("answer dropped after accept: the resend is a visible duplicate with the same fingerprint", async () => {
    const { token, sink } = bot();
    await double.fault({ kind: "drop-after-accept", times: 1 }, token);
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1));
    await runVirtual(outbox, clock);
    const accepted = double.accepted(token);
    expect(accepted.map((m) => m.answered)).toEqual([false, true]);
    expect(accepted[0]?.body).toEqual(accepted[1]?.body);
    expect(outbox.stats()).toMatchObject({ sent: 1, alarmsDelivered: 1, sentByCode: { transport: 1, "0": 1 } });
  });
});

describe("outbox through the Feishu double: refused for good", () => {
  it("19001 (token gone) and 19021 (wrong secret): dead letter, self-alarm to the default channel", async () => {
    const main = bot();
    const wrongSecret = bot({}, { secret: "SECwrong" });
    const gone = createFeishuSink({ webhook: double.url(randomUUID()), logger: log.logger });
    cleanup.push(() => gone.close());
    const outbox = await outboxFor({ default: main.sink, ops: wrongSecret.sink, gone });
    await outbox.enqueue(makeDelivery(1, { channel: "ops" }));
    await outbox.enqueue(makeDelivery(2, { channel: "gone" }));
    await runVirtual(outbox, clock);
    const letters = await deadLetters();
    expect(letters.map((l) => [l.channel, l.code]).sort()).toEqual([["gone", 19001], ["ops", 19021]]);
    const titles = double.accepted(main.token).map((m) => titleOf(m.body)).sort();
    expect(titles).toEqual(["edge-alarm: delivery to channel gone failed: code 19001", "edge-alarm: delivery to channel ops failed: code 19021"]);
    const text = double.accepted(main.token).map((m) => cardText(m.body)).join("\n");
    expect(text).toContain("fp0000000001");
    expect(text).toContain("check the signing secret and the node's clock");
    expect(outbox.stats()).toMatchObject({ deadLetters: 2, selfAlarms: 2, pending: 0 });
  });

  it("19024 (keyword missing): the handler card is dead-lettered; the self-alarm, titled edge-alarm, passes", async () => {
    const { token, sink } = bot({ keywords: ["edge-alarm"] });
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(plainDelivery(1));
    await runVirtual(outbox, clock);
    expect(double.requests(token).map((r) => r.code)).toEqual([19024, 0]);
    expect(titleOf(double.accepted(token)[0]?.body ?? {})).toBe("edge-alarm: delivery to channel default failed: code 19024");
    const [letter] = await deadLetters();
    expect(letter).toMatchObject({ channel: "default", kind: "alarm", code: 19024, msg: "Key Words Not Found", fingerprints: ["fp0000000001"], handler: "default", eventUid: "uid-1" });
    expect(typeof letter?.time).toBe("string");
  });

  it("19036 (over the bot's size limit): dead letter, and the small self-alarm gets through", async () => {
    const { token, sink } = bot({ maxBodyBytes: 2500 });
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(makeDelivery(1, { message: "x".repeat(3000) }));
    await runVirtual(outbox, clock);
    expect(double.requests(token).map((r) => r.code)).toEqual([19036, 0]);
    expect((await deadLetters())[0]).toMatchObject({ code: 19036 });
  });

  it("11235 (@all forbidden in the group): dead letter and a self-alarm without any mention", async () => {
    const { token, sink } = bot({ allowAtAll: false });
    const outbox = await outboxFor({ default: sink });
    const d = plainDelivery(1);
    await outbox.enqueue({ ...d, body: { msg_type: "interactive", card: { elements: [{ tag: "div", text: { tag: "lark_md", content: "<at id=all></at> disk full" } }] } } });
    await runVirtual(outbox, clock);
    expect(double.requests(token).map((r) => r.code)).toEqual([11235, 0]);
    expect(cardText(double.accepted(token)[0]?.body)).toContain("the group forbids @all");
  });

  it("19002 (card sent as content) and 9499 Bad Request (not a JSON object): dead letters", async () => {
    // Unsigned: a signing sender always sends an object, so only an unsigned bot can see a non-object.
    const { token, sink } = bot({}, { unsigned: true });
    const outbox = await outboxFor({ default: sink }, { selfAlarmQuietMs: 0 });
    await outbox.enqueue({ ...makeDelivery(1), body: { msg_type: "interactive", content: { text: "x" } } as unknown as Delivery["body"] });
    await outbox.enqueue({ ...makeDelivery(2), body: [] as unknown as Delivery["body"] });
    await runVirtual(outbox, clock);
    expect((await deadLetters()).map((l) => l.code)).toEqual([19002, 9499]);
    expect(double.accepted(token).map((m) => titleOf(m.body))).toEqual([
      "edge-alarm: delivery to channel default failed: code 19002",
      "edge-alarm: delivery to channel default failed: code 9499",
    ]);
  });

  it("a self-alarm that fails too is only logged: no loop", async () => {
    const { token, sink } = bot({ keywords: ["KW-NOWHERE"] });
    const outbox = await outboxFor({ default: sink });
    await outbox.enqueue(plainDelivery(1));
    await runVirtual(outbox, clock);
    expect(double.requests(token).map((r) => r.code)).toEqual([19024, 19024]);
    expect(outbox.stats()).toMatchObject({ deadLetters: 2, selfAlarms: 1, pending: 0 });
    expect((await deadLetters()).map((l) => l.kind)).toEqual(["alarm", "self-alarm"]);
  });

  it("repeated refusals raise one self-alarm per quiet window; the next one counts the rest", async () => {
    const { token, sink } = bot({ keywords: ["edge-alarm"] });
    const outbox = await outboxFor({ default: sink }, { selfAlarmQuietMs: 10 * 60_000 });
    for (let i = 0; i < 3; i++) {
      await outbox.enqueue(plainDelivery(i));
      await runVirtual(outbox, clock);
    }
    expect(outbox.stats()).toMatchObject({ deadLetters: 3, selfAlarms: 1 });
    clock.set(clock.now() + 11 * 60_000);
    await outbox.enqueue(plainDelivery(9));
    await runVirtual(outbox, clock);
    const selfAlarms = double.accepted(token).map((m) => cardText(m.body));
    expect(selfAlarms).toHaveLength(2);
    expect(selfAlarms[1]).toContain("2 more refusals of this kind since the last notice");
  });

  it("a refused digest: its alarms go one by one instead, and all arrive", async () => {
    // The handler cards carry the keyword (in the title); edge-alarm's own digests and notices do not.
    const { token, sink } = bot({ keywords: ["edge-1"] });
    const outbox = await outboxFor({ default: sink });
    await double.fault({ kind: "link-down" });
    for (let i = 0; i < 8; i++) await outbox.enqueue(makeDelivery(i));
    await outbox.pump();
    clock.set(clock.now() + 5 * 60_000);
    await double.clearFaults();
    await runVirtual(outbox, clock);
    const codes = double.requests(token).map((r) => r.code);
    // The notice and the digest are refused; then eight single cards.
    expect(codes).toEqual([19024, 19024, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(outbox.stats()).toMatchObject({ alarmsDelivered: 8, deadLetters: 0, pending: 0 });
    expect(log.lines().some((l) => String(l.msg).includes("refused a digest card"))).toBe(true);
  });
});

describe("outbox lifecycle", () => {
  it("an outage that spans a restart: the new process knows the channel was offline and announces recovery", async () => {
    const { token, sink } = bot();
    await double.fault({ kind: "link-down" });
    const first = await outboxFor({ default: sink });
    await first.enqueue(makeDelivery(1));
    await first.enqueue(makeDelivery(2));
    await first.pump();
    expect(first.stats().online).toBe(false);
    await first.stop();
    await expect(first.enqueue(makeDelivery(3))).rejects.toThrow(/stopped/);

    clock.set(clock.now() + 5 * 60_000);
    await double.clearFaults();
    const second = await outboxFor({ default: sink }, { timezone: "Asia/Shanghai" });
    expect(second.stats()).toMatchObject({ online: false, pending: 2 });
    await runVirtual(second, clock);
    const titles = double.accepted(token).map((m) => titleOf(m.body));
    expect(titles).toEqual(["edge-alarm: channel default back online after 5 min", "edge-alarm: 2 alarms while offline 14:05–14:10"]);
  });

  it("with real timers: start, hold while the link is down, deliver when it is back, stop", async () => {
    const token = randomUUID();
    double.configure(token);
    const sink = createFeishuSink({ webhook: double.url(token), logger: log.logger, timeoutMs: 2000 });
    cleanup.push(() => sink.close());
    const outbox = await createOutbox({ stateDir, sinks: new Map([["default", sink]]), logger: log.logger, clock: offMarkClock() });
    cleanup.push(() => outbox.stop());
    await double.fault({ kind: "link-down" });
    outbox.start();
    await outbox.enqueue(makeDelivery(1));
    await expect(outbox.drain(300)).rejects.toThrow(/1 alarms still pending/);
    await double.clearFaults();
    await outbox.drain(10_000);
    expect(double.accepted(token)).toHaveLength(1);
    await outbox.stop();
  });
});

describe("secrets stay out of logs and dead letters", () => {
  it("no token, URL or secret in any log line or dead-letter record", async () => {
    const main = bot({ keywords: ["edge-alarm"] });
    const wrong = bot({}, { secret: `${SECRET}x` });
    const outbox = await outboxFor({ default: main.sink, ops: wrong.sink });
    await double.fault({ kind: "gateway-html", status: 500, times: 1 }, main.token);
    await outbox.enqueue(plainDelivery(1));
    await outbox.enqueue(makeDelivery(2, { channel: "ops" }));
    await outbox.enqueue(makeDelivery(3, { channel: "unknown" }));
    await runVirtual(outbox, clock);
    await outbox.stop();
    const files = await readFile(path.join(stateDir, "outbox", "dead-letters.jsonl"), "utf8");
    for (const secret of [main.token, wrong.token, SECRET, double.url(main.token), "/open-apis/bot/v2/hook/"]) {
      expect(log.text()).not.toContain(secret);
      expect(files).not.toContain(secret);
    }
    expect(log.lines().length).toBeGreaterThan(5);
  });
});
