/**
 * One channel's sender: picks the next message from the channel's queue (one alarm, a digest of
 * many, or the "back online" notice), waits for the webhook's rate budget, sends it, and acts on
 * the outcome by its code. A lane never sleeps itself: `step()` does everything due now and says
 * when it next has work, so the outbox can drive it with real timers or a test with virtual time.
 *
 * Grouped cards (the grouper's first/update/repeat/digest cards) are never merged into a digest:
 * they carry the object lists the grouper built, and it already planned them inside the rate
 * limits. They go out one by one, in order, paced by the rate gate; ungrouped alarms are
 * coalesced as before, among themselves.
 *
 * Outcomes:
 * - delivered: the alarms leave the spool; an offline channel is online again.
 * - retryable: backoff with jitter, off the :00/:30 marks. Connection failures mark the channel
 *   offline: alarms accumulate, probes continue at most every 2 minutes, and once the outage is
 *   over a minute old the probe is the "back online" notice itself, so recovery is announced
 *   by the first message that gets through.
 * - refused for good: a dead-letter record and a self-alarm. A refused digest is not dead: its
 *   alarms are sent one by one for an hour (a handler's own card may pass a keyword check the
 *   digest fails).
 */
import type { Logger } from "../log.ts";
import type { FeishuBody, MessageKind, SendFailure, SendMeta, SendResult, Sink } from "../sinks/sink.ts";
import { avoidMinuteMarks, nearMinuteMark, retryDelayMs, type RetryCause } from "./backoff.ts";
import type { DeadLetter } from "./dead-letters.ts";
import { buildDigest, type Digest } from "./digest.ts";
import { backOnlineCard, minutesBetween, type SelfAlarmInput } from "./notices.ts";
import type { RateGate } from "./rate-gate.ts";
import { alarmsIn, isGroupedCard, type SpoolEntry, type SpoolItem } from "./spool-entries.ts";
import type { Spool } from "./spool.ts";

export interface LaneDeps {
  channel: string;
  sink: Sink;
  gate: RateGate;
  spool: Spool;
  clock: () => number;
  random: () => number;
  logger: Logger;
  timezone: string;
  spoolCapBytes: number;
  fits(body: FeishuBody): boolean;
  /** How long an outage lasts before recovery is announced with a notice. */
  noticeAfterMs: number;
  /** Attempts per alarm against server errors (5xx, gateway pages) before it is given up. */
  maxServiceAttempts: number;
  /** When the channel went offline before a restart, if it had. */
  offlineSince?: number;
  record(result: SendResult, kind: MessageKind, alarms: number): void;
  deadLetter(letter: DeadLetter): Promise<void>;
  selfAlarm(channel: string, failure: SendFailure, about: SelfAlarmInput["about"]): Promise<void>;
  saveState(channel: string, offlineSince: number | null): void;
}

type Outgoing = {
  body: FeishuBody;
  meta: SendMeta;
  entries: SpoolEntry[];
  alarms: number;
  /** Held back (a digest, or a grouped card held through an outage): it waits out the :00/:30 marks. */
  backlog: boolean;
} & (
  | { kind: "alarm" | "self-alarm"; item: SpoolItem }
  | { kind: "digest"; digest: Digest }
  | { kind: "notice" }
);

/** How long digests stay off after a channel refused one for good. */
const DIGEST_REFUSED_MS = 60 * 60_000;

function causeOf(result: SendFailure): RetryCause {
  if (result.code === null && result.httpStatus === undefined) return "offline";
  if (result.retryAfterMs !== undefined || result.httpStatus === 429) return "rate";
  // Every retryable answer below 500 that carries a code is a rate limit (11232, 9499 "too many
  // request", 130101, 45009); server errors and gateway pages are the service's trouble.
  return result.code !== null && (result.httpStatus ?? 200) < 500 ? "rate" : "service";
}

export class Lane {
  readonly channel: string;
  readonly #d: LaneDeps;
  readonly #log: Logger;
  #online: boolean;
  #offlineSince: number;
  #outage: { from: number; to: number } | undefined;
  #failures = 0;
  #nextAt = 0;
  #digestsRefusedUntil = 0;
  readonly #attempts = new Map<number, number>();

  constructor(deps: LaneDeps) {
    this.#d = deps;
    this.channel = deps.channel;
    this.#log = deps.logger.child({ channel: deps.channel });
    this.#online = deps.offlineSince === undefined;
    this.#offlineSince = deps.offlineSince ?? 0;
  }

  get online(): boolean {
    return this.#online;
  }

  /** Sends everything due now; resolves with when there is next work (Infinity: none until woken). */
  async step(): Promise<number> {
    for (;;) {
      const now = this.#d.clock();
      const queue = this.#d.spool.queue(this.channel);
      if (now < this.#nextAt && (queue.length > 0 || !this.#online)) return this.#nextAt;
      const out = this.#compose(now, queue);
      if (out === null) return this.#online ? Number.POSITIVE_INFINITY : this.#offlineSince + this.#d.noticeAfterMs;
      const wait = this.#d.gate.waitMs(now);
      if (wait > 0) return now + wait;
      // A backlog burst waits out the platform's busy minutes; a single fresh alarm does not.
      if (out.backlog && nearMinuteMark(now)) return avoidMinuteMarks(now, this.#d.random);
      await this.#send(out, now);
    }
  }

  #compose(now: number, queue: SpoolEntry[]): Outgoing | null {
    if (!this.#online && now - this.#offlineSince >= this.#d.noticeAfterMs) return this.#notice(now, queue);
    const first = queue[0];
    if (first === undefined) return null;
    const outage = this.#outage;
    if (first.type === "item" && isGroupedCard(first)) return this.#single(first, outage !== undefined && first.enqueuedAt <= outage.to);
    // Ungrouped alarms (and folds) are coalesced among themselves, past any grouped cards queued
    // between them: splitting them at each card would turn one digest into many small ones.
    const plain = queue.filter((e) => !isGroupedCard(e));
    if (this.#digestsRefusedUntil > now) return first.type === "fold" ? this.#digest([first]) : this.#single(first);
    if (plain.length === 1) return first.type === "item" ? this.#single(first) : this.#digest(plain);
    const fromOutage = outage !== undefined && plain.filter((e) => e.enqueuedAt <= outage.to).length >= 2;
    const backlog = first.type === "fold" || fromOutage || plain.length > this.#d.gate.available(now);
    if (!backlog) return first.type === "item" ? this.#single(first) : this.#digest([first]);
    return this.#digest(plain, fromOutage ? outage : undefined);
  }

  #single(item: SpoolItem, backlog = false): Outgoing {
    const meta: SendMeta = { kind: item.kind, channel: this.channel, fingerprint: item.fingerprint, handler: item.handler, eventUid: item.eventUid, at: item.at };
    return { kind: item.kind, item, body: item.body, meta, entries: [item], alarms: 1, backlog };
  }

  #digest(queue: SpoolEntry[], outage?: { from: number; to: number }): Outgoing {
    const digest = buildDigest(queue, {
      channel: this.channel,
      timezone: this.#d.timezone,
      spoolCapBytes: this.#d.spoolCapBytes,
      fits: this.#d.fits,
      ...(outage ? { outage } : {}),
    });
    const first = digest.entries[0];
    const at = first === undefined ? undefined : first.type === "fold" ? first.first : first.at;
    const meta: SendMeta = { kind: "digest", channel: this.channel, fingerprints: digest.fingerprints, ...(at ? { at } : {}) };
    return { kind: "digest", digest, body: digest.body, meta, entries: digest.entries, alarms: digest.alarms, backlog: true };
  }

  #notice(now: number, queue: SpoolEntry[]): Outgoing {
    const cards = queue.filter(isGroupedCard).length;
    const pending = queue.reduce((n, e) => n + alarmsIn(e), 0) - cards;
    const body = backOnlineCard({ channel: this.channel, from: this.#offlineSince, to: now, pending, cards, timezone: this.#d.timezone });
    return { kind: "notice", body, meta: { kind: "notice", channel: this.channel }, entries: [], alarms: 0, backlog: false };
  }

  async #send(out: Outgoing, now: number): Promise<void> {
    const ids = out.entries.map((e) => e.id);
    // Locked entries are never folded while their fate is open.
    this.#d.spool.lock(ids);
    try {
      const slot = this.#d.gate.acquire(now);
      const result = await this.#d.sink.send(out.body, out.meta);
      const end = this.#d.clock();
      if (!result.ok && result.code === null && result.maybeDelivered === false) slot.cancel();
      else slot.finish(end);
      this.#d.record(result, out.kind, out.alarms);
      await this.#handle(out, result, end);
    } finally {
      this.#d.spool.unlock(ids);
    }
  }

  async #handle(out: Outgoing, result: SendResult, now: number): Promise<void> {
    const ids = out.entries.map((e) => e.id);
    if (result.ok) {
      const removed = this.#d.spool.remove(ids);
      for (const id of ids) this.#attempts.delete(id);
      if (!this.#online) this.#goOnline(now);
      this.#failures = 0;
      this.#nextAt = 0;
      await removed;
      return;
    }
    const cause = causeOf(result);
    if (result.retryable && !(cause === "service" && this.#exhausted(ids))) {
      if (cause === "offline" && this.#online) this.#goOffline(now);
      this.#failures++;
      const delay = Math.max(retryDelayMs(this.#failures, cause, this.#d.random), result.retryAfterMs ?? 0);
      this.#nextAt = avoidMinuteMarks(now + delay, this.#d.random);
      this.#log.debug({ cause, failures: this.#failures, retryInMs: Math.round(this.#nextAt - now) }, "will retry");
      return;
    }
    // The service answered, so the link works, whatever it thought of the message.
    if (!this.#online) this.#goOnline(now);
    this.#failures = 0;
    this.#nextAt = 0;
    if (out.kind === "notice") {
      this.#log.warn({ code: result.code, reason: result.msg }, "the back-online notice was refused; the backlog follows anyway");
      return;
    }
    if (out.kind === "digest" && out.entries.some((e) => e.type === "item")) {
      this.#digestsRefusedUntil = now + DIGEST_REFUSED_MS;
      this.#log.warn({ code: result.code, reason: result.msg }, "channel refused a digest card; sending its alarms one by one for the next hour");
      return;
    }
    await this.#giveUp(out, result);
  }

  /** Counts a server-error attempt for each entry; true when one has had its last. */
  #exhausted(ids: number[]): boolean {
    let exhausted = false;
    for (const id of ids) {
      const n = (this.#attempts.get(id) ?? 0) + 1;
      this.#attempts.set(id, n);
      if (n >= this.#d.maxServiceAttempts) exhausted = true;
    }
    return exhausted;
  }

  async #giveUp(out: Outgoing, failure: SendFailure): Promise<void> {
    const item = out.kind === "alarm" || out.kind === "self-alarm" ? out.item : undefined;
    const fingerprints = out.kind === "digest" ? out.digest.fingerprints : item ? [item.fingerprint] : [];
    const title = item?.facts.title ?? (out.kind === "digest" ? `digest of ${out.alarms} alarms` : out.kind);
    const letter: DeadLetter = {
      time: new Date(this.#d.clock()).toISOString(),
      channel: this.channel,
      kind: out.kind === "digest" ? "fold" : out.kind,
      code: failure.code,
      msg: failure.msg,
      fingerprints,
      alarms: out.alarms,
      title,
      ...(failure.httpStatus === undefined ? {} : { httpStatus: failure.httpStatus }),
      ...(item ? { handler: item.handler, eventUid: item.eventUid } : {}),
    };
    await this.#d.deadLetter(letter);
    await this.#d.spool.remove(out.entries.map((e) => e.id));
    for (const e of out.entries) this.#attempts.delete(e.id);
    // A self-alarm about a failed self-alarm could loop: it is only logged (above).
    if (out.kind === "self-alarm") return;
    const about: SelfAlarmInput["about"] = { kind: letter.kind, title, fingerprints, ...(item ? { handler: item.handler, eventUid: item.eventUid } : {}) };
    await this.#d.selfAlarm(this.channel, failure, about);
  }

  #goOffline(now: number): void {
    this.#online = false;
    this.#offlineSince = now;
    this.#d.saveState(this.channel, now);
    this.#log.warn("channel unreachable: holding its alarms in the spool and probing with backoff");
  }

  #goOnline(now: number): void {
    this.#online = true;
    this.#outage = { from: this.#offlineSince, to: now };
    this.#d.saveState(this.channel, null);
    this.#log.info({ offlineMinutes: minutesBetween(this.#offlineSince, now), pending: this.#d.spool.queue(this.channel).reduce((n, e) => n + alarmsIn(e), 0) }, "channel back online");
  }
}
