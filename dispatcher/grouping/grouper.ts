/**
 * Alertmanager's grouping applied to Kubernetes Events. Handler alarms and the repeats of
 * already alarmed event streams are occurrences of groups; a group is notified `wait` after it
 * starts, then at most every `interval` when objects join it, and every `repeat` while only its
 * counts go up. When more groups are due than the channel's storm budget allows, they go out
 * together as one digest. Cards are planned inside Feishu's send limits and logged (nflog)
 * before they are handed to the outbox, so a restart neither repeats nor loses them.
 */
import { hash, type Alarm, type KubeEvent } from "../../sdk/index.ts";
import type { Logger } from "../log.ts";
import { buildFeishuBody } from "../pipeline/feishu-body.ts";
import { occurrenceKey } from "../pipeline/occurrences.ts";
import type { Delivery } from "../pipeline/pipeline.ts";
import { digestCards, groupNoticeCards, noticeKind, type GroupNotice } from "./cards.ts";
import type { Clock } from "./clock.ts";
import { defaultGroupKey, memberOf, stripCombined } from "./group-key.ts";
import { NotificationLog, type NflogStore } from "./nflog.ts";
import { nextTokenAt, planSendTimes, tokensAt } from "./send-gate.ts";
import { DEFAULT_GROUPING, timingFor, type GroupingSettings, type HandlerGrouping } from "./settings.ts";
import {
  applyRecord, channelState, dueAt, emptyState, groupsOf, horizon, isExpired,
  type ApplyLimits, type ChannelState, type GroupState, type GrouperState, type NewRecord, type NflogRecord, type PlannedCard, type StreamIndex,
} from "./state.ts";

/** One handler alarm, as the pipeline hands it over. */
export interface GroupInput {
  /** The handler's stable name (without the sandbox version suffix). */
  handler: string;
  channel: string;
  alarm: Alarm;
  event: KubeEvent;
  /** The event's alarm fingerprint (sdk `fingerprint`). */
  fingerprint: string;
  /** The handler's own timers, over the global ones. */
  grouping?: HandlerGrouping;
}

/** What the pipeline needs from the grouper. */
export interface AlarmGrouper {
  add(input: GroupInput): Promise<void>;
  /** Count a repeat of an event stream; false when no group holds the stream (run the handlers for it). */
  observe(event: KubeEvent): Promise<boolean>;
}

export interface GrouperOptions {
  cluster: string;
  timezone: string;
  logger: Logger;
  clock: Clock;
  /** Hands a card to the outbox (or to the replay). */
  deliver: (d: Delivery) => void | Promise<void>;
  settings?: GroupingSettings;
  /** Where the notification log lives; memory only when absent. */
  store?: NflogStore;
  maxJournalBytes?: number;
}

export interface GrouperStats {
  /** Groups started since this grouper was opened. */
  groups: number;
  /** Handler alarms and counted repeats taken in. */
  occurrences: number;
  /** Group notifications (each group of a digest counts once). */
  notices: number;
  digests: number;
  /** Cards handed on, and their bytes. */
  cards: number;
  bytes: number;
}

/** Stable group identity: channel, handler and key. 12 hex digits, shown on the cards. */
export function groupId(channel: string, handler: string, key: string): string {
  return hash([channel, handler, key].join("\u0000")).slice(0, 12);
}

export class Grouper implements AlarmGrouper {
  readonly stats: GrouperStats = { groups: 0, occurrences: 0, notices: 0, digests: 0, cards: 0, bytes: 0 };
  readonly #opts: GrouperOptions;
  readonly #settings: GroupingSettings;
  readonly #limits: ApplyLimits;
  readonly #log: NotificationLog | undefined;
  #state: GrouperState = emptyState();
  #index: StreamIndex = new Map();
  #timer: { at: number; cancel: () => void } | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(opts: GrouperOptions) {
    this.#opts = opts;
    this.#settings = opts.settings ?? DEFAULT_GROUPING;
    this.#limits = { maxMembersPerGroup: this.#settings.maxMembersPerGroup, maxRetired: 20_000, burst: this.#settings.storm.burst, keepSent: this.#settings.limits.perMinute };
    this.#log = opts.store
      ? new NotificationLog({ store: opts.store, logger: opts.logger, limits: this.#limits, ...(opts.maxJournalBytes ? { maxJournalBytes: opts.maxJournalBytes } : {}) })
      : undefined;
  }

  /** Open a grouper, reading its notification log back; cards planned before a restart go out first. */
  static async open(opts: GrouperOptions): Promise<Grouper> {
    const g = new Grouper(opts);
    if (g.#log) {
      const loaded = await g.#log.load(g.#limits);
      g.#state = loaded.state;
      g.#index = loaded.index;
      const groups = Object.keys(g.#state.groups).length;
      const queued = Object.values(g.#state.channels).reduce((n, c) => n + c.queue.length, 0);
      if (groups || queued) opts.logger.info({ groups, queued }, "notification log loaded");
    }
    g.#arm();
    return g;
  }

  /** The state, read-only by convention (tests and the bench inspect it). */
  get state(): Readonly<GrouperState> {
    return this.#state;
  }

  /** Groups held now. */
  get active(): number {
    return Object.keys(this.#state.groups).length;
  }

  knows(event: KubeEvent): boolean {
    return this.#index.has(occurrenceKey(event));
  }

  async add(input: GroupInput): Promise<void> {
    const { alarm, event, channel, handler } = input;
    const key = alarm.group !== undefined && alarm.group !== "" ? { key: `custom\u0000${alarm.group}`, label: alarm.group } : defaultGroupKey(event);
    const id = groupId(channel, handler, key.key);
    const stream = occurrenceKey(event);
    this.#expireIfOver([id]);
    const existing = this.#state.groups[id];
    // A handler re-run after a restart or relist for an event already counted: nothing new.
    if (existing?.streams[stream] && existing.streams[stream].c >= event.count) return;
    if (!existing?.streams[stream] && (this.#state.retired[stream] ?? 0) >= event.count) return;
    if (!existing) this.#makeRoom();
    this.stats.occurrences++;
    if (!existing) this.stats.groups++;
    await this.#commit({
      t: "alarm", at: this.#opts.clock.now(), stream, count: event.count,
      group: { id, channel, handler, key: key.key, label: key.label, timing: timingFor(this.#settings.timing, input.grouping) },
      member: memberOf(event), first: event.firstTimestamp, last: event.lastTimestamp,
      message: stripCombined(event.message), card: alarm.card, fingerprint: input.fingerprint,
    }, true);
    this.#armFor(id);
  }

  async observe(event: KubeEvent): Promise<boolean> {
    const stream = occurrenceKey(event);
    this.#expireIfOver(groupsOf(this.#index, stream));
    const ids = groupsOf(this.#index, stream);
    // An ended group's event seen again without a new occurrence (relist, stale checkpoint) is not news.
    if (!ids.length) return (this.#state.retired[stream] ?? 0) >= event.count;
    const raises = ids.some((id) => (this.#state.groups[id]?.streams[stream]?.c ?? Infinity) < event.count);
    if (!raises) return true;
    this.stats.occurrences++;
    // A lost count is healed by the next update of the event (counts are cumulative): no fsync wait.
    await this.#commit({ t: "count", at: this.#opts.clock.now(), stream, count: event.count, last: event.lastTimestamp, message: stripCombined(event.message) }, false);
    for (const id of ids) this.#armFor(id);
    return true;
  }

  /** Do what is due now: expire idle groups, notify due groups, hand on planned cards. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushNow()).catch((err: unknown) => {
      this.#opts.logger.error({ err }, "grouping flush failed");
    });
    return this.#flushing;
  }

  /** Stop the timer, finish what runs, and fold the log into a snapshot. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#flushing;
    await this.#log?.close(this.#state);
  }

  async #commit(rec: NewRecord, durable: boolean): Promise<void> {
    const full = { ...rec, s: this.#state.seq + 1 } as NflogRecord;
    applyRecord(this.#state, this.#index, full, this.#limits);
    if (!this.#log) return;
    const written = this.#log.append(full, this.#state);
    if (durable) await written;
  }

  /** Groups are ended lazily: an occurrence for a group that is over starts a new one instead. */
  #expireIfOver(ids: readonly string[]): void {
    const now = this.#opts.clock.now();
    const over = ids.filter((id) => {
      const g = this.#state.groups[id];
      return g !== undefined && isExpired(g, now);
    });
    if (over.length) void this.#commit({ t: "expire", groups: over }, false);
  }

  /** Keep the number of groups bounded: the longest idle group that has nothing to say goes first. */
  #makeRoom(): void {
    const groups = Object.values(this.#state.groups);
    if (groups.length < this.#settings.maxGroups) return;
    const idle = groups.filter((g) => dueAt(g) === undefined).sort((a, b) => a.lastOccurrenceAt - b.lastOccurrenceAt)[0];
    if (!idle) {
      this.#opts.logger.warn({ groups: groups.length }, "grouping: every group is waiting to be notified; holding more than the bound");
      return;
    }
    void this.#commit({ t: "expire", groups: [idle.id] }, false);
  }

  async #flushNow(): Promise<void> {
    if (this.#closed) return;
    const now = this.#opts.clock.now();
    try {
      const expired = Object.values(this.#state.groups).filter((g) => isExpired(g, now)).map((g) => g.id);
      if (expired.length) await this.#commit({ t: "expire", groups: expired }, false);

      const dueByChannel = new Map<string, { due: boolean; groups: GroupState[] }>();
      for (const g of Object.values(this.#state.groups)) {
        const due = dueAt(g);
        if (due === undefined || due > now + horizon(g)) continue;
        let entry = dueByChannel.get(g.channel);
        if (!entry) dueByChannel.set(g.channel, (entry = { due: false, groups: [] }));
        entry.groups.push(g);
        entry.due ||= due <= now;
      }
      // Groups within their horizon only ride along when some group of the channel is really due.
      for (const [channel, { due, groups }] of dueByChannel) if (due) await this.#notify(channel, groups, now);
      for (const channel of Object.keys(this.#state.channels)) await this.#release(channel, now);
    } finally {
      // Even after a failure: what is still due is tried again (in 5 s), never forgotten.
      this.#arm(true);
    }
  }

  /** Notify a channel's due groups: a card each while the storm budget lasts, else one digest. */
  async #notify(channel: string, due: GroupState[], now: number): Promise<void> {
    const { storm, limits } = this.#settings;
    const c = channelState(this.#state, channel, storm.burst);
    const tokens = tokensAt(c.tokens, c.tokensAt, now, storm);
    if (tokens < 1) return; // the timer comes back when a token is there
    due.sort((a, b) => (dueAt(a) ?? 0) - (dueAt(b) ?? 0) || a.id.localeCompare(b.id));
    const ctx = { cluster: this.#opts.cluster, timezone: this.#opts.timezone, at: now };
    const notices: GroupNotice[] = due.map((group) => ({ group, kind: noticeKind(group) }));
    if (due.length >= storm.digestGroups || due.length > Math.floor(tokens)) {
      // A storm: one digest for everything due, and the budget starts again from empty.
      const cards = digestCards(notices, ctx);
      await this.#plan(channel, notices, cards, "digest", 0, now);
      this.stats.digests++;
      return;
    }
    let left = tokens;
    for (const n of notices) {
      left -= 1;
      await this.#plan(channel, [n], groupNoticeCards(n, ctx), n.kind, left, now);
    }
  }

  /** Log the notification (durably) with its cards placed inside the send limits. */
  async #plan(channel: string, notices: GroupNotice[], cards: ReturnType<typeof digestCards>, kind: PlannedCard["kind"], tokens: number, now: number): Promise<void> {
    const c = channelState(this.#state, channel, this.#settings.storm.burst);
    const times = planSendTimes(c.sent, cards.length, now, this.#settings.limits);
    const first = notices[0]!.group;
    // Unique across group lifetimes (an ended group's key can start a new group with the same id).
    const base = notices.length === 1
      ? `${first.id}.${first.createdAt.toString(36)}.${first.notices + 1}`
      : `digest.${hash(channel).slice(0, 6)}.${now.toString(36)}.${c.notices + 1}`;
    const planned: PlannedCard[] = cards.map((card, i) => {
      const built = buildFeishuBody(card);
      return {
        id: `${base}.${i + 1}`, at: times[i]!, channel, kind,
        handler: notices.length === 1 ? first.handler : "edge-alarm",
        groups: notices.map((n) => n.group.id),
        fingerprint: notices.length === 1 ? first.fingerprint : notices.map((n) => n.group.id).join(","),
        eventUid: "",
        body: built.body,
        truncated: built.truncated,
      };
    });
    this.stats.notices += notices.length;
    await this.#commit({ t: "notify", at: now, channel, groups: notices.map((n) => n.group.id), tokens, cards: planned }, true);
  }

  /**
   * When the channel's next planned card may be handed on: its planned time, or later when cards
   * went out late (a restart, a refusal) and the send limits need the gap back.
   */
  #releaseAt(c: ChannelState): number | undefined {
    const head = c.queue[0];
    return head === undefined ? undefined : planSendTimes(c.released, 1, head.at, this.#settings.limits)[0];
  }

  /** Hand on the channel's planned cards whose time has come, in order. */
  async #release(channel: string, now: number): Promise<void> {
    const c = this.#state.channels[channel];
    if (!c) return;
    for (let at = this.#releaseAt(c); at !== undefined && at <= now; at = this.#releaseAt(c)) {
      const card = c.queue[0]!;
      const json = JSON.stringify(card.body);
      const d: Delivery = {
        at: new Date(now).toISOString(), channel: card.channel, handler: card.handler, eventUid: card.eventUid,
        fingerprint: card.fingerprint, group: card.groups.join(","), body: card.body, json,
        bytes: Buffer.byteLength(json), truncated: card.truncated, id: card.id, kind: card.kind,
      };
      try {
        await this.#opts.deliver(d);
      } catch (err) {
        // Still planned: the next flush tries again; the log keeps it across a restart.
        this.#opts.logger.error({ err, id: card.id, channel }, "grouping: could not hand a card to the outbox; retrying");
        return;
      }
      this.stats.cards++;
      this.stats.bytes += d.bytes;
      await this.#commit({ t: "handoff", at: now, channel, ids: [card.id] }, false);
    }
  }

  /** The next time something is due: a group (once its channel has a token) or a planned card. */
  #wakeFor(g: GroupState): number | undefined {
    const due = dueAt(g);
    if (due === undefined) return undefined;
    const c = this.#state.channels[g.channel];
    return c ? Math.max(due, nextTokenAt(c.tokens, c.tokensAt, this.#settings.storm)) : due;
  }

  /** Set the timer for the earliest thing due. After a flush, anything still due now is a failed hand-off: retry in 5 s. */
  #arm(afterFlush = false): void {
    let next = Infinity;
    for (const g of Object.values(this.#state.groups)) next = Math.min(next, this.#wakeFor(g) ?? Infinity);
    for (const c of Object.values(this.#state.channels)) next = Math.min(next, this.#releaseAt(c) ?? Infinity);
    const now = this.#opts.clock.now();
    if (afterFlush && next <= now) next = now + 5_000;
    this.#schedule(next, true);
  }

  #armFor(id: string): void {
    const g = this.#state.groups[id];
    const at = g ? this.#wakeFor(g) : undefined;
    if (at !== undefined) this.#schedule(at, false);
  }

  /** Set the timer to `at`; unless `replace`, only when that is earlier than the one set. */
  #schedule(at: number, replace: boolean): void {
    if (this.#closed) return;
    if (this.#timer && (this.#timer.at === at || (!replace && this.#timer.at <= at))) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    if (at === Infinity) return;
    const cancel = this.#opts.clock.schedule(at, async () => {
      this.#timer = undefined;
      await this.flush();
    });
    this.#timer = { at, cancel };
  }
}
