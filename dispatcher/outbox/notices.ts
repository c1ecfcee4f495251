/**
 * Cards edge-alarm writes about itself: the self-alarm when a channel refuses an alarm for good,
 * and the "back online" notice after an outage. Plain text only, short, and titled "edge-alarm"
 * so they pass a keyword check where the refused card did not.
 */
import { card, div, note } from "../../sdk/index.ts";
import type { FeishuBody, SendFailure } from "../sinks/sink.ts";
import { formatTime } from "../time-format.ts";

export interface SelfAlarmInput {
  channel: string;
  failure: SendFailure;
  /** What was refused: its title, fingerprint(s) and origin. */
  about: { kind: string; title: string; fingerprints: readonly string[]; handler?: string; eventUid?: string };
  /** Further refusals of the same kind since the last self-alarm, not reported separately. */
  suppressed: number;
  timezone: string;
  nowMs: number;
}

const CODE_HINTS: Record<string, string> = {
  "19001": "the webhook token is invalid or the bot was removed: update the channel's Secret",
  "19002": "the message shape was refused: a handler built an invalid card",
  "19021": "the signature was refused: check the signing secret and the node's clock (NTP)",
  "19022": "the sender's IP is not in the bot's allowlist",
  "19024": "the card lacks the bot's keyword: add it to the handler's card title",
  "19036": "the card is over the bot's size limit: shorten the handler's card",
  "9499": "the body could not be parsed",
  "11235": "the group forbids @all for this bot: remove the mention",
  "310000": "DingTalk security check failed (keyword, signature or IP)",
  "93000": "the WeCom webhook key is invalid",
};

export function selfAlarmCard(input: SelfAlarmInput): FeishuBody {
  const { failure, about } = input;
  const code = failure.code === null ? `HTTP ${failure.httpStatus ?? "?"}` : String(failure.code);
  const hint = CODE_HINTS[String(failure.code)];
  const lines = [
    `${about.kind === "alarm" ? "Alarm" : `A ${about.kind}`} "${about.title}" was refused with code ${code}: ${failure.msg}`,
    ...(hint ? [`Likely cause: ${hint}.`] : []),
    `Fingerprint${about.fingerprints.length === 1 ? "" : "s"}: ${about.fingerprints.slice(0, 20).join(" ")}${about.fingerprints.length > 20 ? ` (+${about.fingerprints.length - 20} more)` : ""}`,
    ...(about.handler ? [`Handler: ${about.handler}${about.eventUid ? ` · event ${about.eventUid}` : ""}`] : []),
    ...(input.suppressed > 0 ? [`${input.suppressed} more refusal${input.suppressed === 1 ? "" : "s"} of this kind since the last notice.`] : []),
    "It will not be retried; the dispatcher's state dir keeps a dead-letter record.",
  ];
  return {
    msg_type: "interactive",
    card: card({
      title: `edge-alarm: delivery to channel ${input.channel} failed: code ${code}`,
      template: "red",
      elements: [div(lines.join("\n")), note(`edge-alarm self-alarm · ${formatTime(new Date(input.nowMs).toISOString(), input.timezone, "zoned")}`)],
    }),
  };
}

export interface BackOnlineInput {
  channel: string;
  from: number;
  to: number;
  /** Ungrouped alarms waiting, to follow in digests. */
  pending: number;
  /** Grouped cards waiting, to follow one by one. Default 0. */
  cards?: number;
  timezone: string;
}

export function minutesBetween(from: number, to: number): number {
  return Math.max(1, Math.round((to - from) / 60_000));
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

function heldText(alarms: number, cards: number): string {
  if (alarms === 0 && cards === 0) return "No alarms were held.";
  if (cards === 0) return `${plural(alarms, "alarm was", "alarms were")} held; they follow as digest cards.`;
  if (alarms === 0) return `${plural(cards, "grouped card was", "grouped cards were")} held; ${cards === 1 ? "it follows" : "they follow one by one"}.`;
  return `${plural(cards, "grouped card", "grouped cards")} and ${plural(alarms, "alarm", "alarms")} were held; they follow, the cards one by one and the alarms as digest cards.`;
}

export function backOnlineCard(input: BackOnlineInput): FeishuBody {
  const at = (ms: number) => formatTime(new Date(ms).toISOString(), input.timezone, "time").slice(0, 5);
  const held = heldText(input.pending, input.cards ?? 0);
  return {
    msg_type: "interactive",
    card: card({
      title: `edge-alarm: channel ${input.channel} back online after ${minutesBetween(input.from, input.to)} min`,
      template: "green",
      elements: [div(`Unreachable ${at(input.from)}–${at(input.to)} (${input.timezone}). ${held}`), note("edge-alarm notice")],
    }),
  };
}
