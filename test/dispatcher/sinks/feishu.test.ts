import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../dispatcher/log.ts";
import { createFeishuSink, feishuWebhookProblem, interpretFeishuAnswer, type FeishuSinkOptions } from "../../../dispatcher/sinks/feishu.ts";
import type { FeishuBody, SendResult, Sink } from "../../../dispatcher/sinks/sink.ts";
import type { FeishuBody as PipelineBody } from "../../../dispatcher/pipeline/feishu-body.ts";
import { startFeishuDouble, type FeishuDouble } from "../../feishu-double/double.ts";
import { contractCard, describeSinkContract } from "./sink-contract.ts";

// Tokens and the secret are random per run, so finding them in a log can only mean a leak.
const OPEN = randomUUID();
const SIGNED = randomUUID();
const SECRET = `SEC${randomUUID().replaceAll("-", "")}`;
const SMALL = randomUUID();
const KEYWORDS = randomUUID();
const NO_AT_ALL = randomUUID();
const RATE_9499 = randomUUID();

let double: FeishuDouble;
// null: the double follows the real clock; a number freezes it.
let doubleNow: number | null = null;
let logText = "";
const logger = createLogger({
  level: "trace",
  destination: new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString();
      done();
    },
  }),
});
const sinks: Sink[] = [];

function sinkFor(token: string, extra: Partial<FeishuSinkOptions> = {}): Sink {
  const sink = createFeishuSink({ webhook: double.url(token), logger, timeoutMs: 2000, ...extra });
  sinks.push(sink);
  return sink;
}

const cardWith = (text: string, tag = "plain_text", title = "Pod restarting"): FeishuBody => ({
  msg_type: "interactive",
  card: { header: { title: { tag: "plain_text", content: title } }, elements: [{ tag: "div", text: { tag, content: text } }] },
});

beforeAll(async () => {
  double = await startFeishuDouble({
    clock: () => doubleNow ?? Date.now(),
    bots: {
      [OPEN]: {},
      [SIGNED]: { secret: SECRET },
      [SMALL]: { maxBodyBytes: 400 },
      [KEYWORDS]: { keywords: ["edge-alarm"] },
      [NO_AT_ALL]: { allowAtAll: false },
      [RATE_9499]: { rateLimitStyle: "9499" },
    },
  });
});
afterAll(async () => {
  await double.close();
});
beforeEach(async () => {
  doubleNow = null;
  await double.reset();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

describeSinkContract("feishu (through the double)", async () => ({
  sink: sinkFor(OPEN),
  delivered: () => double.accepted(OPEN).length,
}));

describe("feishu sink: delivery and signing", () => {
  it("posts the body as UTF-8 JSON, unsigned when there is no secret", async () => {
    const body = cardWith("重启 5 次 BackOff");
    expect(await sinkFor(OPEN).send(body, {})).toEqual({ ok: true, code: 0 });
    const [accepted] = double.accepted(OPEN);
    expect(accepted?.body).toEqual(body);
    expect(double.requests(OPEN)[0]?.contentType).toBe("application/json; charset=utf-8");
  });

  it("takes the pipeline's card body as is", async () => {
    const body: PipelineBody = { msg_type: "interactive", card: { elements: [] } };
    expect(await sinkFor(OPEN).send(body, {})).toEqual({ ok: true, code: 0 });
  });

  it("signs with the right secret: integer timestamp, fresh on every send", async () => {
    let now = Date.now();
    const sink = sinkFor(SIGNED, { secret: SECRET, clock: () => now });
    expect(await sink.send(contractCard, {})).toEqual({ ok: true, code: 0 });
    now += 5000;
    expect(await sink.send(contractCard, {})).toEqual({ ok: true, code: 0 });
    const [first, second] = double.accepted(SIGNED).map((m) => m.body);
    expect(typeof first?.timestamp).toBe("number");
    expect(Number(second?.timestamp) - Number(first?.timestamp)).toBe(5);
    expect(first?.sign).not.toBe(second?.sign);
  });

  it.each([
    ["no secret", {}],
    ["a wrong secret", { secret: "SECwrong" }],
    ["a clock 61 minutes behind", { secret: SECRET, clock: () => Date.now() - 61 * 60_000 }],
    ["a clock 61 minutes ahead", { secret: SECRET, clock: () => Date.now() + 61 * 60_000 }],
  ])("a signed bot refuses a sender with %s: 19021, not retryable", async (_name, extra) => {
    const result = await sinkFor(SIGNED, extra).send(contractCard, {});
    expect(result).toMatchObject({ ok: false, code: 19021, retryable: false, httpStatus: 200 });
    expect(double.accepted()).toEqual([]);
  });

  it("tolerates a clock skew inside the hour", async () => {
    expect(await sinkFor(SIGNED, { secret: SECRET, clock: () => Date.now() - 59 * 60_000 }).send(contractCard, {})).toEqual({ ok: true, code: 0 });
  });

  it("closes more than once without error", async () => {
    const sink = sinkFor(OPEN);
    await sink.close();
    await expect(sink.close()).resolves.toBeUndefined();
  });

  it("sends through a caller's dispatcher and leaves it open on close", async () => {
    const agent = new Agent();
    const sink = createFeishuSink({ webhook: double.url(OPEN), logger, dispatcher: agent });
    expect(await sink.send(contractCard, {})).toEqual({ ok: true, code: 0 });
    await sink.close();
    expect(agent.closed).toBe(false);
    await agent.close();
  });
});

describe("feishu sink: every answer of the double", () => {
  const refusals: Array<[string, string, () => FeishuBody, Partial<SendResult>]> = [
    ["unknown token (19001)", randomUUID(), () => contractCard, { code: 19001 }],
    ["body over the size budget (19036)", SMALL, () => cardWith("x".repeat(600)), { code: 19036 }],
    // JSON.stringify always yields valid JSON, so a top-level array stands in for unparseable content.
    ["content that is not a JSON object (9499 Bad Request)", OPEN, () => [] as unknown as FeishuBody, { code: 9499, msg: "Bad Request" }],
    ["card sent as content (19002)", OPEN, () => ({ msg_type: "interactive", content: { text: "x" } }), { code: 19002 }],
    ["missing keyword (19024)", KEYWORDS, () => cardWith("no key word here"), { code: 19024, msg: "Key Words Not Found" }],
    ["@all where the group forbids it (11235)", NO_AT_ALL, () => cardWith("<at id=all></at> look", "lark_md"), { code: 11235 }],
  ];
  it.each(refusals)("%s: failure, not retryable", async (_name, token, body, expected) => {
    const result = await sinkFor(token).send(body(), {});
    expect(result).toMatchObject({ ok: false, retryable: false, httpStatus: 200, ...expected });
    expect(double.accepted()).toEqual([]);
  });

  it("the same checks pass when the message is right", async () => {
    expect(await sinkFor(KEYWORDS).send(cardWith("details", "plain_text", "edge-alarm: BackOff"), {})).toEqual({ ok: true, code: 0 });
    expect(await sinkFor(NO_AT_ALL).send(cardWith("<at id=all></at> shown literally"), {})).toEqual({ ok: true, code: 0 });
  });

  async function sendSix(token: string): Promise<SendResult[]> {
    doubleNow = Date.UTC(2025, 5, 1, 10, 15, 0); // frozen: all six fall in one second
    const sink = sinkFor(token);
    const results: SendResult[] = [];
    for (let i = 0; i < 6; i++) results.push(await sink.send(contractCard, {}));
    return results;
  }

  it("rate limit answered with 11232 at HTTP 200: retryable", async () => {
    const results = await sendSix(OPEN);
    expect(results.slice(0, 5).every((r) => r.ok)).toBe(true);
    expect(results[5]).toMatchObject({ ok: false, code: 11232, retryable: true, httpStatus: 200 });
  });

  it("rate limit answered with 9499 'too many request' at HTTP 400 (StatusCode 0 beside it): retryable", async () => {
    const results = await sendSix(RATE_9499);
    expect(results[5]).toEqual({ ok: false, code: 9499, msg: "too many request", retryable: true, httpStatus: 400 });
  });

  it("platform load at the half hour (11232 below quota): retryable", async () => {
    await double.fault({ kind: "rate-limit-at-minutes", minutes: [0, 30] });
    doubleNow = Date.UTC(2025, 5, 1, 17, 30, 2);
    expect(await sinkFor(OPEN).send(contractCard, {})).toMatchObject({ ok: false, code: 11232, retryable: true });
  });

  it("gateway 5xx with an HTML body: no code, retryable", async () => {
    await double.fault({ kind: "gateway-html", status: 502 });
    const result = await sinkFor(OPEN).send(contractCard, {});
    expect(result).toMatchObject({ ok: false, code: null, retryable: true, httpStatus: 502, maybeDelivered: true });
    expect(result.ok === false && result.msg).toMatch(/^HTTP 502 with a non-JSON body: 502 Bad Gateway/);
  });

  it("link down: connection refused, retryable and surely not delivered; the link coming back heals it", async () => {
    const sink = sinkFor(OPEN);
    expect((await sink.send(contractCard, {})).ok).toBe(true); // a pooled keep-alive socket now exists
    await double.fault({ kind: "link-down" });
    const result = await sink.send(contractCard, {});
    expect(result).toMatchObject({ ok: false, code: null, retryable: true, maybeDelivered: false });
    expect(result.ok === false && result.msg).toMatch(/connection refused/);
    await double.clearFaults();
    expect(await sink.send(contractCard, {})).toEqual({ ok: true, code: 0 });
    expect(double.accepted(OPEN)).toHaveLength(2);
  });

  it("no answer at all: times out, retryable, maybe delivered", async () => {
    await double.fault({ kind: "never-answer" });
    const started = performance.now();
    const result = await sinkFor(OPEN, { timeoutMs: 300 }).send(contractCard, {});
    expect(performance.now() - started).toBeLessThan(1500);
    expect(result).toMatchObject({ ok: false, code: null, retryable: true, maybeDelivered: true });
    expect(result.ok === false && result.msg).toMatch(/no answer/);
  });

  it("a slow answer past the timeout: the message was accepted anyway, so a retry duplicates it", async () => {
    await double.fault({ kind: "delay", ms: 800 });
    const result = await sinkFor(OPEN, { timeoutMs: 300 }).send(contractCard, {});
    expect(result).toMatchObject({ ok: false, retryable: true, maybeDelivered: true });
    expect(double.accepted(OPEN)).toHaveLength(1);
  });

  it("answer dropped after accept: retryable failure, and the retry is a visible duplicate", async () => {
    await double.fault({ kind: "drop-after-accept", times: 1 });
    const sink = sinkFor(OPEN);
    const body = cardWith("fingerprint 7f3a");
    const first = await sink.send(body, { fingerprint: "7f3a" });
    expect(first).toMatchObject({ ok: false, code: null, retryable: true, maybeDelivered: true });
    expect(await sink.send(body, { fingerprint: "7f3a" })).toEqual({ ok: true, code: 0 });
    expect(double.accepted(OPEN).map((m) => [m.answered, m.body])).toEqual([[false, body], [true, body]]);
  });
});

describe("interpretFeishuAnswer", () => {
  it("decides by code, falling back to StatusCode only when code is absent", () => {
    expect(interpretFeishuAnswer(200, '{"StatusCode":0,"StatusMessage":"success"}')).toEqual({ ok: true, code: 0 });
    expect(interpretFeishuAnswer(200, '{"StatusCode":9499,"StatusMessage":"fail to parse content"}')).toMatchObject({ ok: false, code: 9499, retryable: false });
    expect(interpretFeishuAnswer(200, '{"StatusCode":0,"code":19024,"msg":"Key Words Not Found"}')).toMatchObject({ ok: false, code: 19024 });
    expect(interpretFeishuAnswer(200, '{"data":{}}')).toMatchObject({ ok: false, code: null, retryable: true });
    expect(interpretFeishuAnswer(200, "<html>captive portal</html>")).toMatchObject({ ok: false, code: null, retryable: true });
  });

  it("treats server errors and 429 as retryable whatever the code", () => {
    expect(interpretFeishuAnswer(503, '{"code":19001,"msg":"x"}')).toMatchObject({ retryable: true });
    expect(interpretFeishuAnswer(429, '{"code":1,"msg":"x"}')).toMatchObject({ retryable: true });
    expect(interpretFeishuAnswer(200, '{"code":123456,"msg":"never seen"}')).toMatchObject({ retryable: false });
  });
});

describe("webhook validation", () => {
  const token = randomUUID();
  it.each([
    ["not a URL", `open.feishu.cn/open-apis/bot/v2/hook/${token}`, /not a valid URL/],
    ["another scheme", `ftp://open.feishu.cn/open-apis/bot/v2/hook/${token}`, /must use https/],
    ["the legacy v1 form", `https://open.feishu.cn/open-apis/bot/hook/${token.replaceAll("-", "")}`, /obsolete v1/],
    ["another path", `https://open.feishu.cn/open-apis/im/v1/messages/${token}`, /path must be/],
    ["a query string", `https://open.feishu.cn/open-apis/bot/v2/hook/${token}?x=1`, /query string/],
    ["credentials", `https://u:${token}@open.feishu.cn/open-apis/bot/v2/hook/${token}`, /user name or password/],
  ])("rejects %s with a message that does not show the token", (_name, webhook, message) => {
    expect(feishuWebhookProblem(webhook)).toMatch(message);
    let error: unknown;
    try {
      createFeishuSink({ webhook, logger });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toContain(token);
    expect(String((error as Error).message)).not.toContain(token.replaceAll("-", ""));
  });

  it("accepts Feishu and Lark v2 URLs, and http for tests", () => {
    for (const host of ["https://open.feishu.cn", "https://open.larksuite.com", "http://127.0.0.1:8080"]) {
      expect(feishuWebhookProblem(`${host}/open-apis/bot/v2/hook/${token}`)).toBeNull();
    }
  });
});

describe("secrets stay out of logs", () => {
  it("never logs the webhook token, URL or secret, on success or on any failure", async () => {
    logText = "";
    await sinkFor(SIGNED, { secret: SECRET }).send(contractCard, { fingerprint: "fp", handler: "default", eventUid: "uid" });
    await sinkFor(SIGNED, { secret: `${SECRET}x` }).send(contractCard, {});
    await double.fault({ kind: "gateway-html", status: 500, times: 1 });
    await sinkFor(SIGNED, { secret: SECRET }).send(contractCard, {});
    await double.fault({ kind: "drop-after-accept", times: 1 });
    await sinkFor(SIGNED, { secret: SECRET }).send(contractCard, {});
    await double.fault({ kind: "link-down" });
    await sinkFor(SIGNED, { secret: SECRET }).send(contractCard, {});
    await double.clearFaults();

    const lines = logText.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === "message not delivered").map((l) => l.code)).toEqual([19021, null, null, null]);
    expect(lines.filter((l) => l.msg === "message delivered")).toHaveLength(1);
    for (const secretText of [SIGNED, SECRET, double.url(SIGNED), "/open-apis/bot/v2/hook/"]) {
      expect(logText).not.toContain(secretText);
    }
    expect(lines.every((l) => typeof l.target === "string" && /^127\.0\.0\.1:\d+#[0-9a-f]{8}$/.test(l.target))).toBe(true);
  });
});
