/**
 * The Feishu (and Lark) custom-bot webhook sink: one POST per message, signed when a secret is
 * set, success decided by the answer's JSON `code` (shared/docs/feishu-webhook.md §1–§4). It
 * makes one attempt per send and says whether another can help; retries, backoff, rate limiting
 * and the spool belong to the sender built on top of it.
 *
 * The webhook URL and the secret are credentials: they never reach a log line or an error
 * message. Logs name the target as host plus a short hash of the token.
 */
import { createHash } from "node:crypto";
import { Agent, request, type Dispatcher } from "undici";
import type { Logger } from "../log.ts";
import { signFeishu } from "./feishu-sign.ts";
import type { FeishuBody, SendFailure, SendMeta, SendResult, Sink } from "./sink.ts";

export interface FeishuSinkOptions {
  /** `https://open.feishu.cn/open-apis/bot/v2/hook/<token>` (or open.larksuite.com); http only for tests. */
  webhook: string;
  /** The bot's signing secret, when signature verification is on. */
  secret?: string;
  /** Deadline for one attempt: connect, send, headers and body. Default 10,000 ms. */
  timeoutMs?: number;
  /** An undici dispatcher to send through (e.g. a ProxyAgent); its owner closes it. Default: a keep-alive Agent owned by the sink. */
  dispatcher?: Dispatcher;
  logger: Logger;
  /** Name in logs and channel configuration. Default "feishu". */
  name?: string;
  /** Clock for the signature timestamp, in ms. Default Date.now. */
  clock?: () => number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

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

/** Host plus the first 8 hex digits of the token's SHA-256: enough to tell bots apart in logs. */
function describeTarget(url: URL, token: string): string {
  return `${url.host}#${createHash("sha256").update(token).digest("hex").slice(0, 8)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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
  // A gateway answered, not the bot service; whether it passed the request on is unknown.
  if (!isObject(json)) {
    const snippet = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 80);
    return { ok: false, code: null, msg: `HTTP ${httpStatus} with a non-JSON body: ${snippet}`, retryable: true, httpStatus, maybeDelivered: true };
  }
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

function errorCode(err: unknown): string | undefined {
  if (!isObject(err)) return undefined;
  if (typeof err.code === "string") return err.code;
  // Connecting to several addresses fails with an AggregateError of per-address errors.
  return Array.isArray(err.errors) ? errorCode(err.errors[0]) : undefined;
}

// Failures where the request can not have reached the service.
const NOT_SENT: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  ENETUNREACH: "network unreachable",
  EHOSTUNREACH: "host unreachable",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
};
// Failures after the request may have been sent.
const MAYBE_SENT: Record<string, string> = {
  ECONNRESET: "connection reset before the answer",
  EPIPE: "connection closed while sending",
  UND_ERR_SOCKET: "connection closed before the answer",
  UND_ERR_HEADERS_TIMEOUT: "no answer before the timeout",
  UND_ERR_BODY_TIMEOUT: "answer body stalled past the timeout",
};

function transportFailure(err: unknown, timeoutMs: number): SendFailure {
  const code = errorCode(err);
  if (code !== undefined && code in NOT_SENT) return { ok: false, code: null, msg: `${NOT_SENT[code]} (${code})`, retryable: true, maybeDelivered: false };
  if (code !== undefined && code in MAYBE_SENT) return { ok: false, code: null, msg: `${MAYBE_SENT[code]} (${code})`, retryable: true, maybeDelivered: true };
  if (isObject(err) && err.name === "TimeoutError") {
    return { ok: false, code: null, msg: `no answer within ${timeoutMs} ms`, retryable: true, maybeDelivered: true };
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { ok: false, code: null, msg: `network error: ${text}`, retryable: true, maybeDelivered: true };
}

export function createFeishuSink(opts: FeishuSinkOptions): Sink {
  const problem = feishuWebhookProblem(opts.webhook);
  if (problem !== null) throw new Error(problem);
  const url = new URL(opts.webhook);
  const token = HOOK_PATH.exec(url.pathname)?.[1] ?? "";
  const { secret } = opts;
  const name = opts.name ?? "feishu";
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = opts.clock ?? Date.now;
  const ownAgent =
    opts.dispatcher === undefined
      ? new Agent({ keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } })
      : undefined;
  const dispatcher = opts.dispatcher ?? (ownAgent as Dispatcher);
  const log = opts.logger.child({ component: "sink", sink: name, target: describeTarget(url, token) });
  let closed = false;

  // Any text that came from outside (error messages, gateway pages) is scrubbed of the
  // credentials before it is returned or logged, in case something echoes the request.
  const scrub = (text: string): string => {
    let out = text.split(token).join("<token>");
    if (secret !== undefined && secret !== "") out = out.split(secret).join("<secret>");
    return out;
  };

  function report(result: SendResult, meta: SendMeta, startedMs: number): SendResult {
    const fields = { ...meta, ms: Math.round(performance.now() - startedMs) };
    if (result.ok) {
      log.debug(fields, "message delivered");
      return result;
    }
    const failure: SendFailure = { ...result, msg: scrub(result.msg) };
    log.warn({ ...fields, code: failure.code, reason: failure.msg, httpStatus: failure.httpStatus, retryable: failure.retryable }, "message not delivered");
    return failure;
  }

  async function attempt(payload: string): Promise<SendResult> {
    try {
      const res = await request(url, {
        method: "POST",
        dispatcher,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: payload,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return interpretFeishuAnswer(res.statusCode, await res.body.text());
    } catch (err) {
      return transportFailure(err, timeoutMs);
    }
  }

  log.info({ signed: secret !== undefined }, "feishu sink ready");

  return {
    name,
    async send(body: FeishuBody, meta: SendMeta): Promise<SendResult> {
      const started = performance.now();
      if (closed) return report({ ok: false, code: null, msg: "sink is closed", retryable: true }, meta, started);
      let payload: string;
      try {
        // A fresh timestamp on every attempt: a signature is only good for an hour (doc §2.4).
        const timestamp = Math.floor(clock() / 1000);
        payload = JSON.stringify(secret === undefined ? body : { ...body, timestamp, sign: signFeishu(secret, timestamp) });
      } catch (err) {
        const msg = `message cannot be serialised: ${(err as Error).message}`;
        return report({ ok: false, code: null, msg, retryable: false }, meta, started);
      }
      return report(await attempt(payload), meta, started);
    },
    async close() {
      if (closed) return; // undici rejects a second close of the same agent
      closed = true;
      await ownAgent?.close();
    },
  };
}
