/**
 * The generic JSON webhook sink: for anything that is not a chat robot (an incident tool, a
 * relay, a script). Each message is POSTed as one JSON object: what it is, where it came from,
 * its fingerprint(s), the card as Markdown and the Feishu body itself. Any 2xx is success;
 * 408, 425, 429 and 5xx may pass on retry; other statuses will not. With a secret, the body is
 * signed: `X-Edge-Alarm-Timestamp` (ms) and `X-Edge-Alarm-Signature: sha256=<hex HMAC of
 * "<timestamp>.<body>">`, so the receiver can check origin and freshness.
 */
import { createHmac } from "node:crypto";
import { renderBodyMarkdown } from "./card-markdown.ts";
import { answerSnippet, describeTarget, type HttpAnswer } from "./http-transport.ts";
import { createRobotSink, webhookUrlProblem, type RobotSinkOptions } from "./robot-sink.ts";
import type { FeishuBody, RateLimits, SendMeta, SendResult, Sink } from "./sink.ts";

export interface WebhookSinkOptions extends RobotSinkOptions {
  /** Any http(s) URL; the whole URL counts as secret (paths and queries often carry tokens). Name default "webhook". */
  webhook: string;
  /** Key for the body signature headers. */
  secret?: string;
  /** Default 5/s and 300/min. */
  rateLimits?: RateLimits;
  /** Largest body sent without truncating a digest. Default 256 KiB. */
  maxBodyBytes?: number;
}

/** What the webhook receives. */
export interface WebhookPayload extends SendMeta {
  kind: NonNullable<SendMeta["kind"]>;
  title: string;
  markdown: string;
  body: FeishuBody;
}

const RETRYABLE_STATUS = new Set([408, 425, 429]);

export function webhookSinkProblem(webhook: string): string | null {
  const checked = webhookUrlProblem("JSON", webhook, "https://host/path");
  return "problem" in checked ? checked.problem : null;
}

export function webhookPayload(body: FeishuBody, meta: SendMeta): string {
  const { title, text } = renderBodyMarkdown(body, "plain");
  const payload: WebhookPayload = { ...meta, kind: meta.kind ?? "alarm", title, markdown: text, body };
  return JSON.stringify(payload);
}

export function interpretWebhookAnswer(answer: HttpAnswer): SendResult {
  const { status, text } = answer;
  if (status >= 200 && status < 300) return { ok: true, code: 0 };
  const snippet = answerSnippet(text);
  const retryable = status >= 500 || RETRYABLE_STATUS.has(status);
  const result: SendResult = { ok: false, code: status, msg: `HTTP ${status}${snippet ? `: ${snippet}` : ""}`, retryable, httpStatus: status };
  if (answer.retryAfterMs !== undefined) result.retryAfterMs = answer.retryAfterMs;
  if (status >= 500) result.maybeDelivered = true;
  return result;
}

export function createWebhookSink(opts: WebhookSinkOptions): Sink {
  const problem = webhookSinkProblem(opts.webhook);
  if (problem !== null) throw new Error(problem);
  const url = new URL(opts.webhook);
  const { secret } = opts;
  const maxBodyBytes = opts.maxBodyBytes ?? 256 * 1024;
  const pathAndQuery = `${url.pathname}${url.search}`;
  return createRobotSink(
    {
      kind: "webhook",
      name: opts.name ?? "webhook",
      target: describeTarget(url, pathAndQuery),
      // Paths and queries of webhooks often carry the token; the host alone is not secret.
      secrets: [pathAndQuery.length > 1 ? pathAndQuery : undefined, url.pathname.length > 1 ? url.pathname : undefined, url.search.slice(1) || undefined, secret],
      rateLimits: opts.rateLimits ?? { perSecond: 5, perMinute: 300 },
      fits: (body) => Buffer.byteLength(webhookPayload(body, {}), "utf8") <= maxBodyBytes,
      encode(body, meta, nowMs) {
        const payload = webhookPayload(body, meta);
        if (secret === undefined) return { url, payload };
        const timestamp = String(Math.floor(nowMs));
        const signature = createHmac("sha256", secret).update(`${timestamp}.${payload}`).digest("hex");
        return { url, payload, headers: { "x-edge-alarm-timestamp": timestamp, "x-edge-alarm-signature": `sha256=${signature}` } };
      },
      interpret: interpretWebhookAnswer,
      ready: { signed: secret !== undefined },
    },
    opts,
  );
}
