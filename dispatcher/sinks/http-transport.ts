/**
 * The HTTP side shared by every webhook sink: one keep-alive undici dispatcher per sink (through
 * the HTTP(S) proxy named by the environment, when there is one), a POST with a hard deadline,
 * and the classification of transport failures into "surely not sent" and "may have been sent".
 *
 * Edge gateways often sit behind a proxy; HTTPS_PROXY / HTTP_PROXY / NO_PROXY (upper or lower
 * case) are honoured with undici's EnvHttpProxyAgent: CONNECT tunnels for https targets,
 * absolute-form forwarding for http ones. The proxy URL may carry credentials, so it is never
 * logged either.
 */
import { createHash } from "node:crypto";
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from "../undici.ts";
import type { SendFailure } from "./sink.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;
/** Idle keep-alive sockets are kept this long: alarms come in bursts, the 5G link is metered. */
const KEEP_ALIVE_MS = 30_000;

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
  /** CONNECT-tunnel http targets too, for proxies that only tunnel (EDGE_ALARM_PROXY_TUNNEL=true). */
  tunnel?: boolean;
}

/** The proxy settings in an environment; lower case wins, as in curl and undici. */
export function proxySettings(env: ProxyEnv): ProxySettings {
  const pick = (name: string): string | undefined => (env[name.toLowerCase()] ?? env[name])?.trim() || undefined;
  const out: ProxySettings = {};
  const httpProxy = pick("HTTP_PROXY");
  const httpsProxy = pick("HTTPS_PROXY");
  const noProxy = pick("NO_PROXY");
  if (httpProxy !== undefined) out.httpProxy = httpProxy;
  if (httpsProxy !== undefined) out.httpsProxy = httpsProxy;
  if (noProxy !== undefined) out.noProxy = noProxy;
  if (env.EDGE_ALARM_PROXY_TUNNEL?.trim() === "true") out.tunnel = true;
  return out;
}

/**
 * A keep-alive dispatcher with the deadline on connect, headers and body. With a proxy in the
 * settings it is an EnvHttpProxyAgent given those settings explicitly (so tests and callers do
 * not depend on process.env); otherwise a plain Agent.
 */
export function createHttpDispatcher(timeoutMs: number, proxy: ProxySettings = {}): Dispatcher {
  // HTTP/1.1 only, so the bundled dispatcher never loads node:http2 (build/bundle-dispatcher.ts).
  const agentOptions = { keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs }, allowH2: false };
  if (proxy.httpProxy === undefined && proxy.httpsProxy === undefined) return new Agent(agentOptions);
  // Empty strings stop EnvHttpProxyAgent from falling back to process.env for the unset ones.
  return new EnvHttpProxyAgent({
    ...agentOptions,
    httpProxy: proxy.httpProxy ?? "",
    httpsProxy: proxy.httpsProxy ?? proxy.httpProxy ?? "",
    noProxy: proxy.noProxy ?? "",
    ...(proxy.tunnel ? { proxyTunnel: true } : {}),
  });
}

/** Host plus the first 8 hex digits of a SHA-256 of the secret part: tells targets apart in logs. */
export function describeTarget(url: URL, secretPart: string): string {
  return `${url.host}#${createHash("sha256").update(secretPart).digest("hex").slice(0, 8)}`;
}

export interface HttpAnswer {
  status: number;
  text: string;
  /** From a Retry-After header in seconds. */
  retryAfterMs?: number;
}

/** One POST of a JSON payload; resolves with the answer or with a transport failure, never rejects. */
export async function postJson(
  url: URL,
  payload: string,
  dispatcher: Dispatcher,
  timeoutMs: number,
  headers: Readonly<Record<string, string>> = {},
): Promise<HttpAnswer | SendFailure> {
  try {
    const res = await request(url, {
      method: "POST",
      dispatcher,
      headers: { ...headers, "content-type": "application/json; charset=utf-8" },
      body: payload,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const retryAfter = res.headers["retry-after"];
    const text = await res.body.text();
    return typeof retryAfter === "string" && /^\d+$/.test(retryAfter)
      ? { status: res.statusCode, text, retryAfterMs: Number(retryAfter) * 1000 }
      : { status: res.statusCode, text };
  } catch (err) {
    return transportFailure(err, timeoutMs);
  }
}

/** A short readable excerpt of an answer body (tags stripped), safe to put in a message. */
export function answerSnippet(text: string): string {
  return text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 80);
}

/**
 * A gateway or proxy answered instead of the service (a non-JSON page): retryable, and whether
 * it passed the request on is unknown.
 */
export function gatewayFailure(status: number, text: string): SendFailure {
  return { ok: false, code: null, msg: `HTTP ${status} with a non-JSON body: ${answerSnippet(text)}`, retryable: true, httpStatus: status, maybeDelivered: true };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errorCode(err: unknown): string | undefined {
  if (!isObject(err)) return undefined;
  if (typeof err.code === "string") return err.code;
  // Connecting to several addresses fails with an AggregateError of per-address errors.
  if (Array.isArray(err.errors)) return errorCode(err.errors[0]);
  // A refused proxy connection surfaces as the cause of undici's wrapper error.
  return err.cause === undefined ? undefined : errorCode(err.cause);
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

/**
 * A transport failure: code null and no HTTP status. `maybeDelivered` is false only when the
 * request surely never left (refused, no route, name lookup, connect timeout).
 */
export function transportFailure(err: unknown, timeoutMs: number): SendFailure {
  const code = errorCode(err);
  if (code !== undefined && code in NOT_SENT) return { ok: false, code: null, msg: `${NOT_SENT[code]} (${code})`, retryable: true, maybeDelivered: false };
  if (code !== undefined && code in MAYBE_SENT) return { ok: false, code: null, msg: `${MAYBE_SENT[code]} (${code})`, retryable: true, maybeDelivered: true };
  if (isObject(err) && err.name === "TimeoutError") {
    return { ok: false, code: null, msg: `no answer within ${timeoutMs} ms`, retryable: true, maybeDelivered: true };
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { ok: false, code: null, msg: `network error: ${text}`, retryable: true, maybeDelivered: true };
}

/** Replaces every occurrence of the given secrets in text coming from outside (errors, pages). */
export function scrubber(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const list = secrets.filter((s): s is string => s !== undefined && s.length >= 4);
  return (text) => list.reduce((out, s) => out.split(s).join("<redacted>"), text);
}
