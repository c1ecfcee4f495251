/**
 * The DingTalk custom-robot sink (shared/docs/feishu-webhook.md §8.1): cards are sent as
 * `markdown` messages, signed in the query when a secret is set, success by `errcode` 0.
 * 20 messages a minute per robot; going over earns a 10-minute throttle, so 130101 asks the
 * outbox for ten minutes of quiet rather than a quick retry.
 */
import { renderBodyMarkdown, truncateBytes } from "./card-markdown.ts";
import { signDingTalk } from "./dingtalk-sign.ts";
import { describeTarget, type HttpAnswer } from "./http-transport.ts";
import { createRobotSink, interpretErrcode, webhookUrlProblem, type RobotSinkOptions } from "./robot-sink.ts";
import type { FeishuBody, RateLimits, SendResult, Sink } from "./sink.ts";

export interface DingTalkSinkOptions extends RobotSinkOptions {
  /** `https://oapi.dingtalk.com/robot/send?access_token=…`; http only for tests. Name default "dingtalk". */
  webhook: string;
  /** The robot's 加签 secret (starts with SEC), when signing is on. */
  secret?: string;
}

export const DINGTALK_RATE: RateLimits = { perMinute: 20 };
/** DingTalk refuses bodies over 20,000 bytes (460101); keep room like the Feishu budget. */
const BODY_BUDGET = 19_900;
const THROTTLE_MS = 10 * 60_000;

export function dingTalkWebhookProblem(webhook: string): string | null {
  const checked = webhookUrlProblem("DingTalk", webhook, "https://oapi.dingtalk.com/robot/send?access_token=<token>");
  if ("problem" in checked) return checked.problem;
  const { url } = checked;
  if (!/\/robot\/send$/.test(url.pathname)) return "DingTalk webhook path must be /robot/send";
  if (!url.searchParams.get("access_token")) return "DingTalk webhook must carry ?access_token=<token>";
  return null;
}

/** The DingTalk request body for a message: a markdown message with the card rendered, cut to the budget. */
export function dingTalkPayload(body: FeishuBody): { payload: string; truncated: boolean } {
  const { title, text } = renderBodyMarkdown(body, "dingtalk");
  // Never a mention: isAtAll false and no atMobiles, whatever the text says.
  const message = (t: string) => JSON.stringify({ msgtype: "markdown", markdown: { title: title.slice(0, 64) || "edge-alarm", text: t }, at: { isAtAll: false } });
  const whole = message(text);
  const over = Buffer.byteLength(whole, "utf8") - BODY_BUDGET;
  if (over <= 0) return { payload: whole, truncated: false };
  return { payload: message(truncateBytes(text, Buffer.byteLength(text, "utf8") - over - 64)), truncated: true };
}

/** 130101 "send too fast" and the anti-abuse `{status, wait, punish}` answer are throttles; the rest stays wrong. */
export function interpretDingTalkAnswer(answer: HttpAnswer): SendResult {
  const result = interpretErrcode(answer, (code) => (code === 130101 ? THROTTLE_MS : false));
  if (result.ok || result.code !== null) return result;
  try {
    const json = JSON.parse(answer.text) as Record<string, unknown>;
    if (json.punish !== undefined || json.status !== undefined) {
      const wait = typeof json.wait === "number" ? json.wait * 1000 : THROTTLE_MS;
      return { ok: false, code: null, msg: `throttled (status ${String(json.status)}, punish ${String(json.punish)})`, retryable: true, httpStatus: answer.status, retryAfterMs: wait };
    }
  } catch {
    // not JSON: already reported as a gateway answer
  }
  return result;
}

export function createDingTalkSink(opts: DingTalkSinkOptions): Sink {
  const problem = dingTalkWebhookProblem(opts.webhook);
  if (problem !== null) throw new Error(problem);
  const base = new URL(opts.webhook);
  const token = base.searchParams.get("access_token") ?? "";
  const { secret } = opts;
  return createRobotSink(
    {
      kind: "dingtalk",
      name: opts.name ?? "dingtalk",
      target: describeTarget(base, token),
      secrets: [token, secret],
      rateLimits: DINGTALK_RATE,
      fits: (body) => !dingTalkPayload(body).truncated,
      encode(body, _meta, nowMs) {
        const url = new URL(base);
        if (secret !== undefined) {
          // Fresh per attempt: DingTalk refuses timestamps more than an hour off.
          const timestamp = Math.floor(nowMs);
          url.searchParams.set("timestamp", String(timestamp));
          url.searchParams.set("sign", signDingTalk(secret, timestamp));
        }
        return { url, payload: dingTalkPayload(body).payload };
      },
      interpret: interpretDingTalkAnswer,
      ready: { signed: secret !== undefined },
    },
    opts,
  );
}
