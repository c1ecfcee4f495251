import { createHmac } from "node:crypto";
import { Agent, request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ANSWERS } from "./answers.ts";
import { startFeishuDouble, type FeishuDouble } from "./double.ts";
import { expectedSign } from "./signature.ts";

// Raw HTTP, not the dispatcher's sink: these tests pin the double's own protocol.
const agent = new Agent({ keepAliveTimeout: 1000 });
let now = Date.UTC(2025, 5, 1, 10, 15, 0);
let double: FeishuDouble;

interface Reply {
  status: number;
  text: string;
  json: unknown;
}

async function post(url: string, body: unknown, timeoutMs = 2000): Promise<Reply> {
  const res = await request(url, {
    method: "POST",
    dispatcher: agent,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    headersTimeout: timeoutMs,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // HTML pages are expected for gateway faults; `text` carries them
  }
  return { status: res.statusCode, text, json };
}

const card = (content = "BackOff in iot", tag = "plain_text", title = "Edge alarm") => ({
  msg_type: "interactive",
  card: { header: { title: { tag: "plain_text", content: title } }, elements: [{ tag: "div", text: { tag, content } }] },
});

async function signed(body: object, secret: string, tsSeconds = Math.floor(now / 1000)): Promise<object> {
  return { ...body, timestamp: String(tsSeconds), sign: await expectedSign(String(tsSeconds), secret) };
}

beforeAll(async () => {
  double = await startFeishuDouble({ clock: () => now });
});
afterAll(async () => {
  await double.close();
  await agent.close();
});
beforeEach(async () => {
  now = Date.UTC(2025, 5, 1, 10, 15, 0);
  await double.reset();
  double.configure("open");
  double.configure("signed", { secret: "s3cret" });
  double.configure("strict", { secret: "s3cret", keywords: ["Edge"], allowAtAll: false, maxBodyBytes: 600 });
});

describe("answers", () => {
  it("accepts a valid card with the documented success body", async () => {
    const reply = await post(double.url("open"), card());
    expect(reply).toMatchObject({ status: 200, json: ANSWERS.success.body });
    expect(double.accepted()).toMatchObject([{ token: "open", time: now, answered: true, body: card() }]);
    expect(double.requests()).toMatchObject([{ outcome: "accepted", code: 0, contentType: "application/json; charset=utf-8" }]);
  });

  it.each([
    ["unknown token", "nope", card(), ANSWERS.tokenInvalid],
    ["oversized body", "strict", card("x".repeat(700)), ANSWERS.tooLarge],
    ["unparseable JSON", "open", '{"msg_type":', ANSWERS.badRequest],
    ["JSON that is not an object", "open", "[1]", ANSWERS.badRequest],
    ["missing signature", "signed", card(), ANSWERS.signFailed],
    ["content instead of card", "open", { msg_type: "interactive", content: { text: "x" } }, ANSWERS.cardInvalid],
  ])("answers %s exactly as documented", async (_name, token, body, answer) => {
    const reply = await post(double.url(token), body);
    expect(reply.status).toBe(answer.status);
    expect(reply.json).toEqual(answer.body);
    expect(double.accepted()).toEqual([]);
  });

  it("checks in the documented order: each failure hides the ones after it", async () => {
    const strictBad = async (t: number) => signed(card("<at id=all></at> no keyword", "lark_md", "Alarm"), "s3cret", t);
    const ts = Math.floor(now / 1000);
    const cases: Array<[string, unknown, number]> = [
      ["nope", "{broken", 19001],
      ["strict", `{broken${" ".repeat(700)}`, 19036],
      ["strict", "{broken", 9499],
      ["strict", { msg_type: "nonsense" }, 19021],
      ["strict", await signed({ msg_type: "nonsense" }, "s3cret"), 19002],
      ["strict", await strictBad(ts), 19024],
      ["strict", await signed(card("Edge <at id=all></at>", "lark_md"), "s3cret"), 11235],
    ];
    for (const [token, body, code] of cases) {
      expect((await post(double.url(token), body)).json, `${token} ${code}`).toMatchObject({ code });
    }
  });

  it("accepts the official signature with the timestamp as string or number, and records why it refused", async () => {
    const ts = Math.floor(now / 1000);
    expect((await post(double.url("signed"), await signed(card(), "s3cret"))).json).toMatchObject({ code: 0 });
    const asNumber = { ...card(), timestamp: ts, sign: await expectedSign(String(ts), "s3cret") };
    expect((await post(double.url("signed"), asNumber)).json).toMatchObject({ code: 0 });
    const dingTalk = createHmac("sha256", "s3cret").update(`${ts}\ns3cret`).digest("base64");
    expect((await post(double.url("signed"), { ...card(), timestamp: ts, sign: dingTalk })).json).toEqual(ANSWERS.signFailed.body);
    expect((await post(double.url("signed"), await signed(card(), "s3cret", ts - 3601))).json).toEqual(ANSWERS.signFailed.body);
    expect(double.requests("signed").map((r) => r.detail)).toEqual([undefined, undefined, "mismatch", "skew"]);
  });

  it("ignores timestamp and sign on a bot without a secret", async () => {
    expect((await post(double.url("open"), { ...card(), timestamp: 1, sign: "junk" })).json).toMatchObject({ code: 0 });
  });

  it("refuses @all only where the group forbids it, and only in markup text", async () => {
    const atAll = card("Edge <at id=all></at>", "lark_md");
    expect((await post(double.url("open"), atAll)).json).toMatchObject({ code: 0 });
    expect((await post(double.url("strict"), await signed(atAll, "s3cret"))).json).toEqual(ANSWERS.atAllRefused.body);
    const literal = card("Edge <at id=all></at>", "plain_text");
    expect((await post(double.url("strict"), await signed(literal, "s3cret"))).json).toMatchObject({ code: 0 });
  });

  it("answers 404 off the webhook path", async () => {
    const reply = await post(`${double.origin}/open-apis/bot/hook/abc`, card());
    expect(reply.status).toBe(404);
    expect(double.requests()).toMatchObject([{ token: null, httpStatus: 404 }]);
  });

  it("stamps answers with its own clock", async () => {
    const res = await request(double.url("open"), { method: "POST", dispatcher: agent, body: JSON.stringify(card()) });
    await res.body.text();
    expect(new Date(String(res.headers.date)).getTime()).toBe(now);
  });
});

describe("rate limits", () => {
  it("answers the sixth message in a second with 11232 at HTTP 200, and admits it a second later", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push(((await post(double.url("open"), card())).json as { code: number }).code);
    expect(codes).toEqual([0, 0, 0, 0, 0, 11232]);
    now += 1000;
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
    expect(double.accepted("open")).toHaveLength(6);
  });

  it("answers 9499 'too many request' at HTTP 400 in that style, and caps 100 a minute", async () => {
    double.configure("busy", { rateLimitStyle: "9499" });
    let first: unknown;
    for (let i = 0; i < 101; i++) {
      const reply = await post(double.url("busy"), card());
      if (i === 100) first = reply;
      now += 250; // 4/s: never over the per-second limit
    }
    expect(first).toMatchObject({ status: 400, json: ANSWERS.rateLimited9499.body });
    expect(double.accepted("busy")).toHaveLength(100);
    now += 35_000; // the first message is now more than a minute old
    expect((await post(double.url("busy"), card())).json).toMatchObject({ code: 0 });
  });

  it("gives 11232 during marked minutes below the bot's own quota", async () => {
    await double.fault({ kind: "rate-limit-at-minutes", minutes: [0, 30], seconds: 10 });
    now = Date.UTC(2025, 5, 1, 10, 30, 5);
    expect((await post(double.url("open"), card())).json).toEqual(ANSWERS.rateLimited11232.body);
    now = Date.UTC(2025, 5, 1, 10, 30, 10);
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
  });
});

describe("faults", () => {
  it("link down for every token: connects are refused, then the same URL works again", async () => {
    await double.fault({ kind: "link-down" });
    await expect(post(double.url("open"), card())).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await double.clearFaults();
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
  });

  it("link down for one token resets its connections only", async () => {
    await double.fault({ kind: "link-down" }, "signed");
    await expect(post(double.url("signed"), card())).rejects.toThrow();
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
    expect(double.requests("signed")).toMatchObject([{ outcome: "reset" }]);
  });

  it("gateway HTML with the given status, for a given number of requests", async () => {
    await double.fault({ kind: "gateway-html", status: 503, times: 1 });
    const reply = await post(double.url("open"), card());
    expect(reply.status).toBe(503);
    expect(reply.text).toContain("<html>");
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
    expect(double.accepted()).toHaveLength(1);
  });

  it("slow answers: the message is accepted at once, the answer comes after the delay", async () => {
    await double.fault({ kind: "delay", ms: 300 }, "open");
    const started = performance.now();
    const pending = post(double.url("open"), card());
    await double.waitForAccepted(1, { timeoutMs: 250 });
    expect((await pending).json).toMatchObject({ code: 0 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("never-answer: nothing is accepted and the client times out", async () => {
    await double.fault({ kind: "never-answer", times: 1 });
    await expect(post(double.url("open"), card(), 200)).rejects.toMatchObject({ code: "UND_ERR_HEADERS_TIMEOUT" });
    expect(double.accepted()).toEqual([]);
    expect(double.requests()).toMatchObject([{ outcome: "no-answer" }]);
  });

  it("drop after accept: recorded as accepted but unanswered", async () => {
    await double.fault({ kind: "drop-after-accept", times: 1 }, "open");
    await expect(post(double.url("open"), card())).rejects.toThrow();
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
    expect(double.accepted().map((m) => m.answered)).toEqual([false, true]);
    expect(double.requests().map((r) => r.outcome)).toEqual(["dropped-after-accept", "accepted"]);
  });

  it("reset forgets records, faults and rate windows", async () => {
    for (let i = 0; i < 5; i++) await post(double.url("open"), card());
    await double.fault({ kind: "gateway-html" });
    await double.reset();
    expect(double.accepted()).toEqual([]);
    expect((await post(double.url("open"), card())).json).toMatchObject({ code: 0 });
  });
});
