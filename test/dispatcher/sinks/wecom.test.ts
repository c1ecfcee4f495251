import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { createWeComSink, WECOM_MARKDOWN_BYTES, weComPayload, weComWebhookProblem } from "../../../dispatcher/sinks/wecom.ts";
import { startRobotDouble, type RobotDouble } from "../../robot-doubles/robot-double.ts";
import { captureLog } from "../outbox/helpers.ts";
import { contractCard, describeSinkContract } from "./sink-contract.ts";

const KEY = randomUUID();
let double: RobotDouble;
let now = Date.now();
const log = captureLog("debug");
const sinks: Sink[] = [];

function sink(webhook = double.url()): Sink {
  const s = createWeComSink({ webhook, logger: log.logger, timeoutMs: 2000 });
  sinks.push(s);
  return s;
}

beforeAll(async () => {
  double = await startRobotDouble({ kind: "wecom", token: KEY, clock: () => now });
});
afterAll(async () => {
  await double.close();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await double.clearFaults();
});

describeSinkContract("wecom (through the robot double)", async () => ({ sink: sink(), delivered: () => double.accepted().length }));

describe("WeCom messages and answers", () => {
  it("sends the card as markdown, event text unable to mention anyone", async () => {
    const card = {
      msg_type: "interactive",
      card: {
        header: { title: { tag: "plain_text", content: "edge-1 alarm" } },
        elements: [{ tag: "div", text: { tag: "plain_text", content: "pod <@zhangsan> said @all look" } }],
      },
    };
    expect(await sink().send(card, {})).toEqual({ ok: true, code: 0 });
    const content = (double.accepted().at(-1)?.body as { markdown: { content: string } }).markdown.content;
    expect(content).toContain("**edge-1 alarm**");
    expect(content).not.toContain("<@");
    expect(content).not.toMatch(/@all/);
  });

  it("cuts content to 4096 bytes, so the robot never answers 40058", async () => {
    const big = { msg_type: "interactive", card: { elements: [{ tag: "div", text: { tag: "plain_text", content: "告警".repeat(3000) } }] } };
    const { payload, truncated } = weComPayload(big);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength((JSON.parse(payload) as { markdown: { content: string } }).markdown.content)).toBeLessThanOrEqual(WECOM_MARKDOWN_BYTES);
    expect(await sink().send(big, {})).toEqual({ ok: true, code: 0 });
    expect(sink().fits?.(big)).toBe(false);
  });

  it("over 20 a minute: 45009, retryable after a minute", async () => {
    now = Date.now() + 10 * 60_000;
    const s = sink();
    const results = [];
    for (let i = 0; i < 21; i++) results.push(await s.send(contractCard, {}));
    now = Date.now();
    expect(results[20]).toMatchObject({ ok: false, code: 45009, retryable: true, retryAfterMs: 60_000 });
  });

  it("an invalid key: 93000, not retryable; a 5xx: retryable", async () => {
    expect(await sink(double.url("wrong")).send(contractCard, {})).toMatchObject({ ok: false, code: 93000, retryable: false });
    await double.fault({ kind: "status", status: 503, times: 1 });
    expect(await sink().send(contractCard, {})).toMatchObject({ ok: false, retryable: true, httpStatus: 503 });
  });

  it("rejects URLs that are not a WeCom robot's, and never logs the key", async () => {
    expect(weComWebhookProblem("https://qyapi.weixin.qq.com/cgi-bin/webhook/send")).toMatch(/key/);
    expect(weComWebhookProblem("https://qyapi.weixin.qq.com/other?key=a")).toMatch(/path/);
    await sink(double.url("wrong")).send(contractCard, {});
    expect(log.text()).not.toContain(KEY);
  });
});
