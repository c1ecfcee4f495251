/**
 * The frame every chat-robot and webhook sink shares: the keep-alive dispatcher it owns, one
 * POST per send, the answer turned into a SendResult by the service's own rules, credentials
 * scrubbed from anything returned or logged, and the close semantics of the Sink contract.
 * Each concrete sink only says how to encode a message and how to read an answer.
 */
import type { Dispatcher } from "../undici.ts";
import type { Logger } from "../log.ts";
import { createHttpDispatcher, DEFAULT_TIMEOUT_MS, gatewayFailure, isObject, postJson, scrubber, type HttpAnswer, type ProxySettings } from "./http-transport.ts";
import type { FeishuBody, RateLimits, SendFailure, SendMeta, SendResult, Sink } from "./sink.ts";

/** Options every robot sink takes besides its URL and secret. */
export interface RobotSinkOptions {
  logger: Logger;
  /** Name in logs and channel configuration. */
  name?: string;
  /** Deadline for one attempt: connect, send, headers and body. Default 10,000 ms. */
  timeoutMs?: number;
  /** An undici dispatcher to send through; its owner closes it. Default: one owned by the sink, through `proxy` if set. */
  dispatcher?: Dispatcher;
  /** Proxy settings for the sink's own dispatcher (see proxySettings(env)). */
  proxy?: ProxySettings;
  /** Clock in ms for signature timestamps. Default Date.now. */
  clock?: () => number;
}

export interface EncodedRequest {
  url: URL;
  payload: string;
  headers?: Record<string, string>;
}

export interface RobotSpec {
  kind: string;
  name: string;
  /** Host and short hash, for logs and as the rate key. */
  target: string;
  /** Strings that must never leave the sink (tokens, keys, secrets). */
  secrets: ReadonlyArray<string | undefined>;
  rateLimits: RateLimits;
  fits(body: FeishuBody): boolean;
  /** Builds one attempt; called per attempt, so signatures are always fresh. */
  encode(body: FeishuBody, meta: SendMeta, nowMs: number): EncodedRequest;
  interpret(answer: HttpAnswer): SendResult;
  /** Extra fields for the "ready" log line (never secrets). */
  ready?: Record<string, unknown>;
}

export function createRobotSink(spec: RobotSpec, opts: RobotSinkOptions): Sink {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = opts.clock ?? Date.now;
  const ownAgent = opts.dispatcher === undefined ? createHttpDispatcher(timeoutMs, opts.proxy) : undefined;
  const dispatcher = opts.dispatcher ?? (ownAgent as Dispatcher);
  const log = opts.logger.child({ component: "sink", sink: spec.name, target: spec.target });
  // Text from outside (errors, gateway pages) could echo the request, credentials included.
  const scrub = scrubber(spec.secrets);
  let closed = false;

  function report(result: SendResult, meta: SendMeta, startedMs: number): SendResult {
    const fields = { fingerprint: meta.fingerprint, handler: meta.handler, eventUid: meta.eventUid, channel: meta.channel, kind: meta.kind, ms: Math.round(performance.now() - startedMs) };
    if (result.ok) {
      log.debug(fields, "message delivered");
      return result;
    }
    const failure: SendFailure = { ...result, msg: scrub(result.msg) };
    log.warn({ ...fields, code: failure.code, reason: failure.msg, httpStatus: failure.httpStatus, retryable: failure.retryable }, "message not delivered");
    return failure;
  }

  const proxied = opts.proxy?.httpProxy !== undefined || opts.proxy?.httpsProxy !== undefined;
  log.info({ kind: spec.kind, proxied, ...spec.ready }, `${spec.kind} sink ready`);

  return {
    name: spec.name,
    rateLimits: spec.rateLimits,
    rateKey: `${spec.kind}:${spec.target}`,
    fits: spec.fits,
    async send(body, meta) {
      const started = performance.now();
      if (closed) return report({ ok: false, code: null, msg: "sink is closed", retryable: true }, meta, started);
      let request: EncodedRequest;
      try {
        request = spec.encode(body, meta, clock());
      } catch (err) {
        const msg = `message cannot be encoded: ${(err as Error).message}`;
        return report({ ok: false, code: null, msg, retryable: false }, meta, started);
      }
      const answer = await postJson(request.url, request.payload, dispatcher, timeoutMs, request.headers);
      return report("status" in answer ? spec.interpret(answer) : answer, meta, started);
    },
    async close() {
      if (closed) return; // undici rejects a second close of the same agent
      closed = true;
      await ownAgent?.close();
    },
  };
}

/** The usual reading of `{errcode, errmsg}` answers (DingTalk, WeCom): which codes may pass on retry. */
export function interpretErrcode(answer: HttpAnswer, retryable: (code: number, json: Record<string, unknown>) => number | boolean): SendResult {
  const { status, text } = answer;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // a gateway page: handled below
  }
  if (!isObject(json)) return gatewayFailure(status, text);
  const body = json;
  const code = typeof body.errcode === "number" ? body.errcode : null;
  if (code === 0) return { ok: true, code: 0 };
  const msg = typeof body.errmsg === "string" ? body.errmsg : `HTTP ${status} without errcode`;
  const verdict = code === null ? true : retryable(code, body);
  const failure: SendFailure = {
    ok: false,
    code,
    msg,
    retryable: status >= 500 || status === 429 || verdict !== false,
    httpStatus: status,
  };
  if (typeof verdict === "number") failure.retryAfterMs = verdict;
  else if (answer.retryAfterMs !== undefined) failure.retryAfterMs = answer.retryAfterMs;
  if (code === null) failure.maybeDelivered = true;
  return failure;
}

/** Checks the parts of a webhook URL every robot shares; the message never repeats the URL. */
export function webhookUrlProblem(label: string, raw: string, expected: string): { url: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: `${label} webhook is not a valid URL (expected ${expected})` };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { problem: `${label} webhook must use https (http only for local tests), not ${url.protocol}` };
  if (url.username !== "" || url.password !== "") return { problem: `${label} webhook must not contain a user name or password` };
  if (url.hash !== "") return { problem: `${label} webhook must not have a #fragment` };
  return { url };
}
