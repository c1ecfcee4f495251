/**
 * @module What a Feishu custom-bot answer means and what to do about it, in plain words
 * (shared/docs/feishu-webhook.md §3-4). Used by `send-test` and by `dev` when it sends to a real
 * bot. Never repeats the webhook URL or the secret.
 */
import type { SendResult } from "../../dispatcher/sinks/sink.ts";

export interface Explanation {
  /** One line: what happened. */
  summary: string;
  /** What to check or change, most likely first. */
  advice: string[];
}

export interface ExplainContext {
  /** Whether EDGE_ALARM_FEISHU_SECRET was set (signing on our side). */
  signed: boolean;
  /** This machine's clock, for the 19021 advice. Default now. */
  now?: Date;
}

function byCode(code: number, msg: string, ctx: ExplainContext): Explanation | undefined {
  const now = (ctx.now ?? new Date()).toISOString().replace(/\.\d+Z$/, "Z");
  switch (code) {
    case 19001:
      return {
        summary: "Feishu does not know this webhook (19001: the token is invalid).",
        advice: [
          "The bot was deleted or removed from the group, or the URL was copied incompletely.",
          "Open the group's settings → Bots → the custom bot, copy its webhook URL again and set EDGE_ALARM_FEISHU_WEBHOOK to it.",
        ],
      };
    case 19002:
      return {
        summary: `Feishu refused the message's shape (19002: ${msg || "invalid msg_type or card"}).`,
        advice: ["The card is not valid for Feishu: check the handler's card against the sdk builders (card, div, fields, note, actions)."],
      };
    case 19007:
      return { summary: "The bot is disabled in its group (19007).", advice: ["Enable the custom bot again in the group's settings."] };
    case 19021:
      return {
        summary: "Feishu rejected the signature (19021): a wrong secret, or a clock more than an hour off.",
        advice: ctx.signed
          ? [
              "Check EDGE_ALARM_FEISHU_SECRET: it must be the bot's signing secret exactly as shown under “Signature verification”, without spaces.",
              `Check this machine's clock: it reads ${now} (UTC). Feishu accepts signatures only within one hour of its own time; on an edge node, check NTP (timedatectl).`,
            ]
          : [
              "The bot has “Signature verification” on, but EDGE_ALARM_FEISHU_SECRET is not set: copy the bot's signing secret into it.",
            ],
      };
    case 19022:
      return {
        summary: "The bot's IP allow-list does not include this machine's address (19022).",
        advice: ["Add the egress IP to the bot's allow-list, or turn the allow-list off: on a 5G link the public IP often changes, so prefer signing."],
      };
    case 19024:
      return {
        summary: "The message has none of the bot's custom keywords (19024).",
        advice: [
          "The bot has “Custom keywords” on: every message must contain one of them in its text.",
          "Put a keyword in the card title (e.g. the cluster name), or remove the keyword setting and use signing instead.",
        ],
      };
    case 19036:
      return { summary: "The message is too large for Feishu (19036).", advice: ["Shorten the card: long event messages are the usual cause; the dispatcher keeps bodies under 20,000 bytes."] };
    case 11232:
      return {
        summary: "Feishu is rate-limiting this bot (11232).",
        advice: ["A bot may send at most 5 messages a second and 100 a minute; Feishu also limits around :00 and :30 when it is busy. Wait a minute and retry."],
      };
    case 11235:
      return { summary: "The group does not let this bot mention everyone (11235).", advice: ["Remove at(\"all\") from the card, or let the bot @all in the group's settings."] };
    case 9499:
      return /too many request/i.test(msg)
        ? { summary: "Feishu is rate-limiting this bot (9499 “too many request”).", advice: ["At most 5 messages a second and 100 a minute per bot. Wait a minute and retry."] }
        : { summary: `Feishu could not read the request (9499: ${msg || "Bad Request"}).`, advice: ["The body was not a valid message; this is a bug in edge-alarm or the handler's card: report it with the card JSON."] };
  }
  return undefined;
}

/** Explain a send result; the message of an unknown code is passed on as Feishu wrote it. */
export function explainSendResult(result: SendResult, ctx: ExplainContext): Explanation {
  if (result.ok) return { summary: "Feishu accepted the message (code 0): check the group for the card.", advice: [] };
  if (result.code === null) {
    return {
      summary: `The request did not get a Feishu answer: ${result.msg}.`,
      advice: [
        "Check that this machine can reach open.feishu.cn (or open.larksuite.com) on port 443: DNS, the proxy (HTTPS_PROXY), the firewall or the 5G link's allow-list.",
        ...(result.maybeDelivered ? ["The request may have arrived anyway: look in the group before sending again."] : []),
      ],
    };
  }
  return (
    byCode(result.code, result.msg, ctx) ?? {
      summary: `Feishu answered code ${result.code}${result.msg ? `: ${result.msg}` : ""}.`,
      advice: ["This code is not one edge-alarm knows; look it up in Feishu's custom bot documentation."],
    }
  );
}

/** The explanation as terminal lines. */
export function formatExplanation(e: Explanation): string {
  return [e.summary, ...e.advice.map((a) => `  - ${a}`)].join("\n");
}
