/**
 * The WeCom (企业微信) group-robot sink (shared/docs/feishu-webhook.md §8.2): cards are sent as
 * `markdown` messages of at most 4096 bytes, success by `errcode` 0. No signing: the key in the
 * URL is the only credential. 20 messages a minute per robot.
 */
import { renderBodyMarkdown, truncateBytes } from "./card-markdown.ts";
import { describeTarget, type HttpAnswer } from "./http-transport.ts";
import { createRobotSink, interpretErrcode, webhookUrlProblem, type RobotSinkOptions } from "./robot-sink.ts";
import type { FeishuBody, RateLimits, SendResult, Sink } from "./sink.ts";

export interface WeComSinkOptions extends RobotSinkOptions {
  /** `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`; http only for tests. Name default "wecom". */
  webhook: string;
}

export const WECOM_RATE: RateLimits = { perMinute: 20 };
export const WECOM_MARKDOWN_BYTES = 4096;
/** 45009 "api freq out of limit": WeCom counts per minute, so wait for the next one. */
const FREQ_WAIT_MS = 60_000;

export function weComWebhookProblem(webhook: string): string | null {
  const checked = webhookUrlProblem("WeCom", webhook, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>");
  if ("problem" in checked) return checked.problem;
  const { url } = checked;
  if (!/\/cgi-bin\/webhook\/send$/.test(url.pathname)) return "WeCom webhook path must be /cgi-bin/webhook/send";
  if (!url.searchParams.get("key")) return "WeCom webhook must carry ?key=<key>";
  return null;
}

/** The WeCom request body: a markdown message, its content cut to 4096 bytes. */
export function weComPayload(body: FeishuBody): { payload: string; truncated: boolean } {
  const { text } = renderBodyMarkdown(body, "wecom");
  const content = truncateBytes(text, WECOM_MARKDOWN_BYTES);
  return { payload: JSON.stringify({ msgtype: "markdown", markdown: { content } }), truncated: content !== text };
}

export function interpretWeComAnswer(answer: HttpAnswer): SendResult {
  return interpretErrcode(answer, (code) => (code === 45009 ? FREQ_WAIT_MS : false));
}

export function createWeComSink(opts: WeComSinkOptions): Sink {
  const problem = weComWebhookProblem(opts.webhook);
  if (problem !== null) throw new Error(problem);
  const url = new URL(opts.webhook);
  const key = url.searchParams.get("key") ?? "";
  return createRobotSink(
    {
      kind: "wecom",
      name: opts.name ?? "wecom",
      target: describeTarget(url, key),
      secrets: [key],
      rateLimits: WECOM_RATE,
      fits: (body) => !weComPayload(body).truncated,
      encode: (body) => ({ url, payload: weComPayload(body).payload }),
      interpret: interpretWeComAnswer,
    },
    opts,
  );
}
