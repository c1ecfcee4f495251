/**
 * The Feishu (and Lark) custom-bot webhook sink: one POST per message, signed when a secret is
 * set, success decided by the answer's JSON `code` (shared/docs/feishu-webhook.md §1–§4). It
 * makes one attempt per send and says whether another can help; retries, backoff, rate limiting
 * and the spool belong to the sender built on top of it.
 *
 * The webhook URL and the secret are credentials: they never reach a log line or an error
 * message. Logs name the target as host plus a short hash of the token.
 */
import { BODY_LIMIT_BYTES, SIGNATURE_RESERVE_BYTES } from "../pipeline/feishu-body.ts";
import { signFeishu } from "./feishu-sign.ts";
import { describeTarget, gatewayFailure, isObject } from "./http-transport.ts";
import { createRobotSink, type RobotSinkOptions } from "./robot-sink.ts";
import type { FeishuBody, RateLimits, SendResult, Sink } from "./sink.ts";

export interface FeishuSinkOptions extends RobotSinkOptions {
  /** `https://open.feishu.cn/open-apis/bot/v2/hook/<token>` (or open.larksuite.com); http only for tests. Name default "feishu". */
  webhook: string;
  /** The bot's signing secret, when signature verification is on. */
  secret?: string;
}

/** Per bot and tenant (doc §4.1), strictly enforced since 2022. */
export const FEISHU_RATE: RateLimits = { perSecond: 5, perMinute: 100 };

/** Whether a body stays within the 20,000-byte budget once signed (doc §4.2). */
export function fitsFeishuBudget(body: FeishuBody): boolean {
  return Buffer.byteLength(JSON.stringify(body), "utf8") <= BODY_LIMIT_BYTES - SIGNATURE_RESERVE_BYTES;
}

const HOOK_PATH = /^\/open-apis\/bot\/v2\/hook\/([A-Za-z0-9_-]+)$/;
const LEGACY_HOOK_PATH = /^\/open-apis\/bot\/hook\//;
const EXPECTED = "expected https://open.feishu.cn/open-apis/bot/v2/hook/<token>";

/**
 * What is wrong with a webhook URL, or null when it is usable. The text never repeats the URL,
 * since it carries the token.
 */
export function feishuWebhookProblem(webhook: string): string | null {
  let url: URL;
  try {
    url = new URL(webhook);
  } catch {
    return `Feishu webhook is not a valid URL (${EXPECTED})`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `Feishu webhook must use https (http only for local tests), not ${url.protocol} (${EXPECTED})`;
  }
  if (url.username !== "" || url.password !== "") return "Feishu webhook must not contain a user name or password";
  if (LEGACY_HOOK_PATH.test(url.pathname)) {
    return "Feishu webhook uses the obsolete v1 path /open-apis/bot/hook/…; add a custom bot to the group and use its v2 URL (/open-apis/bot/v2/hook/<token>)";
  }
  if (!HOOK_PATH.test(url.pathname)) return `Feishu webhook path must be /open-apis/bot/v2/hook/<token> (${EXPECTED})`;
  // Senders report that extra query parameters make card requests fail (doc §1.1): use the URL as issued.
  if (url.search !== "" || url.hash !== "") return "Feishu webhook must not have a query string or fragment; use the URL exactly as Feishu issued it";
  return null;
}

/**
 * Whether another attempt can succeed, by code: rate limits yes (11232, and 9499 when its msg is
 * "too many request"); every other code, including 9499 "Bad Request", 19001 token, 19002 shape,
 * 19021 signature, 19024 keywords, 19036 size and codes not seen before, no: sending the same
 * body again would fail the same way.
 */
export function isRetryableCode(code: number, msg: string): boolean {
  if (code === 11232) return true;
  return code === 9499 && /too many request/i.test(msg);
}

/** Turns one HTTP answer into a SendResult; the JSON `code` decides, never the HTTP status alone. */
export function interpretFeishuAnswer(httpStatus: number, text: string): SendResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // not JSON: a gateway or proxy page, handled just below
  }
  if (!isObject(json)) return gatewayFailure(httpStatus, text);
  // `code` first: error bodies can carry StatusCode 0 beside a non-zero code (doc §1.4).
  const hasCode = typeof json.code === "number";
  const code = hasCode ? (json.code as number) : typeof json.StatusCode === "number" ? json.StatusCode : null;
  const msgValue = hasCode ? json.msg : json.StatusMessage;
  const msg = typeof msgValue === "string" ? msgValue : "";
  if (code === 0) return { ok: true, code: 0 };
  if (code === null) {
    return { ok: false, code: null, msg: `HTTP ${httpStatus} with no code in the body`, retryable: true, httpStatus, maybeDelivered: true };
  }
  const retryable = httpStatus >= 500 || httpStatus === 429 || isRetryableCode(code, msg);
  return { ok: false, code, msg, retryable, httpStatus };
}

export function createFeishuSink(opts: FeishuSinkOptions): Sink {
  const problem = feishuWebhookProblem(opts.webhook);
  if (problem !== null) throw new Error(problem);
  const url = new URL(opts.webhook);
  const token = HOOK_PATH.exec(url.pathname)?.[1] ?? "";
  const { secret } = opts;
  return createRobotSink(
    {
      kind: "feishu",
      name: opts.name ?? "feishu",
      target: describeTarget(url, token),
      secrets: [token, secret],
      rateLimits: FEISHU_RATE,
      fits: fitsFeishuBudget,
      encode(body, _meta, nowMs) {
        // A fresh timestamp on every attempt: a signature is only good for an hour (doc §2.4).
        const timestamp = Math.floor(nowMs / 1000);
        return { url, payload: JSON.stringify(secret === undefined ? body : { ...body, timestamp, sign: signFeishu(secret, timestamp) }) };
      },
      interpret: (answer) => interpretFeishuAnswer(answer.status, answer.text),
      ready: { signed: secret !== undefined },
    },
    opts,
  );
}
