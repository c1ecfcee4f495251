import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signDingTalk } from "../../../dispatcher/sinks/dingtalk-sign.ts";
import { createDingTalkSink, dingTalkPayload, dingTalkWebhookProblem, interpretDingTalkAnswer } from "../../../dispatcher/sinks/dingtalk.ts";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { startRobotDouble, type RobotDouble } from "../../robot-doubles/robot-double.ts";
import { captureLog } from "../outbox/helpers.ts";
import { contractCard, describeSinkContract } from "./sink-contract.ts";

const TOKEN = randomUUID().replaceAll("-", "");
const SECRET = `SEC${randomUUID().replaceAll("-", "")}`;
let double: RobotDouble;
let now = Date.now();
const log = captureLog("debug");
const sinks: Sink[] = [];

function sink(extra: { secret?: string; clock?: () => number; webhook?: string } = {}): Sink {
  const s = createDingTalkSink({ webhook: extra.webhook ?? double.url(), secret: SECRET, logger: log.logger, timeoutMs: 2000, clock: () => now, ...extra });
  sinks.push(s);
  return s;
}

beforeAll(async () => {
  double = await startRobotDouble({ kind: "dingtalk", token: TOKEN, secret: SECRET, keywords: ["alarm", "edge-alarm", "contract"], clock: () => now });
});
afterAll(async () => {
  await double.close();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await double.clearFaults();
});

describeSinkContract("dingtalk (through the robot double)", async () => ({ sink: sink(), delivered: () => double.accepted().length }));

describe("DingTalk signing", () => {
  it("matches the worked example: key = secret, message = timestamp LF secret, ms timestamp", () => {
    expect(signDingTalk("SECdemo", 1599360473000)).toBe("tGWkA5eQOQNCNPDgphtxIoNLO+/gD8Lcb705KQoRzeY=");
  });

  it("sends timestamp and sign URL-encoded in the query, fresh per attempt", async () => {
    now = 1599360473000;
    const s = createDingTalkSink({ webhook: `${double.origin}/robot/send?access_token=x`, secret: "SECdemo", logger: log.logger, clock: () => now });
    sinks.push(s);
    await s.send(contractCard, {});
    const last = double.requests().at(-1);
    expect(last?.query).toMatchObject({ timestamp: "1599360473000", sign: "tGWkA5eQOQNCNPDgphtxIoNLO+/gD8Lcb705KQoRzeY=" });
    now = Date.now();
  });

  it("a wrong secret or a clock off by more than an hour is refused (310000), not retryable", async () => {
    expect(await sink({ secret: "SECwrong" }).send(contractCard, {})).toMatchObject({ ok: false, code: 310000, msg: "sign not match", retryable: false });
    // The double keeps the real time; only the sender's clock is two hours behind.
    now = Date.now();
    const skewed = await sink({ clock: () => now - 2 * 3_600_000 }).send(contractCard, {});
    expect(skewed).toMatchObject({ ok: false, code: 310000, retryable: false });
  });
});

describe("DingTalk messages and answers", () => {
  it("sends the card as a markdown message without any mention", async () => {
    await sink().send(contractCard, {});
    const body = double.accepted().at(-1)?.body as { msgtype: string; markdown: { title: string; text: string }; at: { isAtAll: boolean } };
    expect(body.msgtype).toBe("markdown");
    expect(body.markdown.title).toBe("edge-alarm contract");
    expect(body.markdown.text).toContain("BackOff: pod iot/reader-0 restarting");
    expect(body.at.isAtAll).toBe(false);
  });

  it("keyword missing: 310000, not retryable", async () => {
    const card = { msg_type: "interactive", card: { header: { title: { tag: "plain_text", content: "disk" } }, elements: [] } };
    expect(await sink().send(card, {})).toMatchObject({ ok: false, code: 310000, msg: "keywords not in content", retryable: false });
  });

  it("over 20 a minute: 130101, retryable after the 10-minute throttle", async () => {
    now = Date.now() + 10 * 60_000; // a fresh minute for the double
    const s = sink();
    const results = [];
    for (let i = 0; i < 21; i++) results.push(await s.send(contractCard, {}));
    now = Date.now();
    expect(results.slice(0, 20).every((r) => r.ok)).toBe(true);
    expect(results[20]).toMatchObject({ ok: false, code: 130101, retryable: true, retryAfterMs: 600_000 });
  });

  it("an unknown token: 300001, not retryable", async () => {
    expect(await sink({ webhook: double.url("nope") }).send(contractCard, {})).toMatchObject({ ok: false, code: 300001, retryable: false });
  });

  it("a gateway error page and the anti-abuse answer are retryable", async () => {
    await double.fault({ kind: "status", status: 502, body: "<html>502 Bad Gateway</html>", times: 1 });
    expect(await sink().send(contractCard, {})).toMatchObject({ ok: false, code: null, retryable: true, httpStatus: 502 });
    await double.fault({ kind: "answer", json: { status: 1111, wait: 5, punish: "deny" }, times: 1 });
    expect(await sink().send(contractCard, {})).toMatchObject({ ok: false, retryable: true, retryAfterMs: 5000 });
  });

  it("link down: connection refused, retryable, surely not delivered", async () => {
    await double.fault({ kind: "link-down" });
    expect(await sink().send(contractCard, {})).toMatchObject({ ok: false, code: null, retryable: true, maybeDelivered: false });
  });

  it("bodies over 20,000 bytes are cut to fit, and fits() says so", () => {
    const big = { msg_type: "interactive", card: { elements: [{ tag: "div", text: { tag: "plain_text", content: "字".repeat(9000) } }] } };
    const { payload, truncated } = dingTalkPayload(big);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(20_000);
    expect(sink().fits?.(big)).toBe(false);
    expect(sink().fits?.(contractCard)).toBe(true);
  });

  it("interprets errcode answers", () => {
    expect(interpretDingTalkAnswer({ status: 200, text: '{"errcode":0,"errmsg":"ok"}' })).toEqual({ ok: true, code: 0 });
    expect(interpretDingTalkAnswer({ status: 200, text: '{"errcode":460101,"errmsg":"message too long"}' })).toMatchObject({ retryable: false });
  });
});

describe("DingTalk webhook validation and secrets", () => {
  it.each([
    ["not a URL", "oapi.dingtalk.com/robot/send?access_token=abc", /not a valid URL/],
    ["another path", "https://oapi.dingtalk.com/robot/other?access_token=abc", /path must be/],
    ["no token", "https://oapi.dingtalk.com/robot/send", /access_token/],
  ])("rejects %s", (_n, url, message) => {
    expect(dingTalkWebhookProblem(url)).toMatch(message);
  });

  it("never logs the token or the secret", async () => {
    await sink().send(contractCard, {});
    await sink({ secret: "SECwrong-but-secret" }).send(contractCard, {});
    expect(log.text()).not.toContain(TOKEN);
    expect(log.text()).not.toContain(SECRET);
    expect(log.text()).not.toContain("SECwrong-but-secret");
  });
});
