/**
 * The grouper's state and the records that change it. Every change is a record applied by
 * `applyRecord`, both live and when the notification log is read back after a restart, so the
 * state after a restart is exactly the state the log had reached: nothing sent is sent again as
 * new, nothing pending is forgotten.
 */
import type { FeishuCard } from "../../sdk/index.ts";
import type { MemberId } from "./group-key.ts";
import type { GroupTiming } from "./settings.ts";

export interface MemberState extends Omit<MemberId, "key"> {
  /** Occurrences: the sum of the latest counts of this member's event streams. */
  count: number;
  /** `count` when a notification last named this member; 0 = never named yet. */
  notified: number;
  /** Event times (RFC 3339) of the first and latest occurrence. */
  first: string;
  last: string;
  /** Latest message, without client-go's "(combined from similar events)" prefix, shortened. */
  message: string;
  /**
   * The longest message seen: for a reason that alternates between a detailed and a terse form
   * ("Failed to pull image …: dial tcp …: i/o timeout" / "Error: ImagePullBackOff") it keeps the detail.
   */
  detail: string;
}

export interface GroupState {
  /** 12 hex digits, shown on every card of the group: the group fingerprint. */
  id: string;
  channel: string;
  handler: string;
  key: string;
  label: string;
  timing: GroupTiming;
  /** Clock times (ms). */
  createdAt: number;
  lastOccurrenceAt: number;
  lastNotifiedAt?: number;
  notices: number;
  /** The latest card a handler made for this group, and that alarm's event fingerprint. */
  card: FeishuCard;
  fingerprint: string;
  members: Record<string, MemberState>;
  /** Event streams (occurrence keys) → member key and latest count. */
  streams: Record<string, { m: string; c: number }>;
  /** Members never named in a notification yet. */
  unnamed: number;
  /** Occurrences since the last notification. */
  changed: number;
  /** Members refused by the per-group bound, and their occurrences (counted, not named). */
  overflow: number;
}

export type NotificationKind = "first" | "update" | "repeat" | "digest";

/** A card planned for hand-off to the outbox at `at`; kept in the log until handed off. */
export interface PlannedCard {
  /** `<group or digest id>-<notice>-<part>`: the same on a re-delivery after a restart. */
  id: string;
  at: number;
  channel: string;
  handler: string;
  kind: NotificationKind;
  groups: string[];
  fingerprint: string;
  eventUid: string;
  body: { msg_type: "interactive"; card: FeishuCard };
  truncated: boolean;
}

export interface ChannelState {
  /** Storm budget: tokens available at `tokensAt`. */
  tokens: number;
  tokensAt: number;
  /** Planned send times of the latest cards (enough for the per-minute window). */
  sent: number[];
  /** When the latest cards were really handed on: later than planned after a restart or a refusal. */
  released: number[];
  queue: PlannedCard[];
  notices: number;
}

export interface GrouperState {
  /** Sequence number of the last applied record. */
  seq: number;
  groups: Record<string, GroupState>;
  channels: Record<string, ChannelState>;
  /**
   * Event streams of ended groups and their last count (oldest first, bounded), so the same event
   * seen again (a relist, a stale checkpoint) is not mistaken for the problem coming back.
   */
  retired: Record<string, number>;
}

export type GroupInit = Pick<GroupState, "id" | "channel" | "handler" | "key" | "label" | "timing">;

export type NflogRecord =
  | {
      t: "alarm"; s: number; at: number; group: GroupInit; stream: string; count: number;
      member: MemberId;
      first: string; last: string; message: string; card: FeishuCard; fingerprint: string;
    }
  | { t: "count"; s: number; at: number; stream: string; count: number; last: string; message: string }
  | { t: "notify"; s: number; at: number; channel: string; groups: string[]; tokens: number; cards: PlannedCard[] }
  | { t: "handoff"; s: number; at: number; channel: string; ids: string[] }
  | { t: "expire"; s: number; groups: string[] };

/** Distributive Omit, so each record kind keeps its own fields. */
export type NewRecord = NflogRecord extends infer R ? (R extends NflogRecord ? Omit<R, "s"> : never) : never;

/**
 * An empty record keyed by ids, streams or member keys: thousands of keys arrive one by one, and
 * a plain `{}` gets a new hidden class per key added (measured: ~10 per group's members and
 * streams, thousands in a storm) until V8 gives up and makes it a dictionary. A null-prototype
 * object is a dictionary from the start, and no key can hit Object.prototype ("constructor").
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function toDict<T>(record: Record<string, T>): Record<string, T> {
  return Object.assign(dict<T>(), record);
}

export function emptyState(): GrouperState {
  return { seq: 0, groups: dict(), channels: dict(), retired: dict() };
}

/** A state read back from JSON, with its records made dictionaries as live ones are (same keys, same order). */
export function adoptState(parsed: GrouperState): GrouperState {
  const groups = dict<GroupState>();
  for (const [id, g] of Object.entries(parsed.groups)) groups[id] = { ...g, members: toDict(g.members), streams: toDict(g.streams) };
  return { ...parsed, groups, channels: toDict(parsed.channels), retired: toDict(parsed.retired) };
}

/**
 * Where each event stream is counted; derived from the groups, rebuilt after loading. A stream is
 * nearly always in one group: that group's id is kept without an array around it (a storm's
 * index holds thousands of streams). Read it with `groupsOf`.
 */
export type StreamIndex = Map<string, string | string[]>;

export function groupsOf(index: StreamIndex, stream: string): readonly string[] {
  const held = index.get(stream);
  return held === undefined ? [] : typeof held === "string" ? [held] : held;
}

export function buildStreamIndex(state: GrouperState): StreamIndex {
  const index: StreamIndex = new Map();
  for (const g of Object.values(state.groups)) for (const stream of Object.keys(g.streams)) indexAdd(index, stream, g.id);
  return index;
}

function indexRemove(index: StreamIndex, stream: string, group: string): void {
  const list = groupsOf(index, stream).filter((x) => x !== group);
  if (list.length === 0) index.delete(stream);
  else index.set(stream, list.length === 1 ? list[0]! : list);
}

function indexAdd(index: StreamIndex, stream: string, group: string): void {
  const list = groupsOf(index, stream);
  if (list.length === 0) index.set(stream, group);
  else if (!list.includes(group)) index.set(stream, [...list, group]);
}

export function channelState(state: GrouperState, channel: string, burst: number): ChannelState {
  let c = state.channels[channel];
  if (!c) state.channels[channel] = c = { tokens: burst, tokensAt: 0, sent: [], released: [], queue: [], notices: 0 };
  return c;
}

const MESSAGE_KEEP = 500;

/** Raise a stream's count in a group; returns the occurrences added. */
function bump(g: GroupState, stream: string, count: number, at: number, last: string, message: string): number {
  const s = g.streams[stream];
  if (!s) return 0;
  const m = g.members[s.m];
  const delta = Math.max(0, count - s.c);
  if (delta === 0 || !m) return 0;
  s.c = count;
  m.count += delta;
  if (last > m.last) m.last = last;
  if (message) m.message = message.slice(0, MESSAGE_KEEP);
  if (m.message.length > m.detail.length) m.detail = m.message;
  g.changed += delta;
  g.lastOccurrenceAt = Math.max(g.lastOccurrenceAt, at);
  return delta;
}

export interface ApplyLimits {
  maxMembersPerGroup: number;
  /** Streams remembered after their group ended. */
  maxRetired: number;
  burst: number;
  /** How many planned send times to keep per channel: the per-minute limit. */
  keepSent: number;
}

/** Apply one record to the state (mutating it) and the stream index. Pure otherwise. */
export function applyRecord(state: GrouperState, index: StreamIndex, rec: NflogRecord, limits: ApplyLimits): void {
  state.seq = rec.s;
  switch (rec.t) {
    case "alarm": {
      let g = state.groups[rec.group.id];
      if (!g) {
        g = state.groups[rec.group.id] = {
          ...rec.group, timing: { ...rec.group.timing }, createdAt: rec.at, lastOccurrenceAt: rec.at, notices: 0,
          card: rec.card, fingerprint: rec.fingerprint, members: dict(), streams: dict(), unnamed: 0, changed: 0, overflow: 0,
        };
      }
      g.card = rec.card;
      g.fingerprint = rec.fingerprint;
      g.lastOccurrenceAt = Math.max(g.lastOccurrenceAt, rec.at);
      if (g.streams[rec.stream]) {
        bump(g, rec.stream, rec.count, rec.at, rec.last, rec.message);
        return;
      }
      let m = g.members[rec.member.key];
      if (!m) {
        if (Object.keys(g.members).length >= limits.maxMembersPerGroup) {
          g.overflow += rec.count;
          return;
        }
        const id = rec.member;
        // Every field in one literal (no spread): the object keeps them inline, without a separate
        // property array, and equal first and last times share one string. Thousands in a storm.
        m = g.members[id.key] = {
          kind: id.kind, namespace: id.namespace, name: id.name, reason: id.reason, count: 0, notified: 0,
          first: rec.first, last: rec.last === rec.first ? rec.first : rec.last, message: "", detail: "",
        };
        g.unnamed++;
      }
      const streams = Object.keys(g.streams);
      if (streams.length >= limits.maxMembersPerGroup * 4) {
        // Bounded: the oldest stream is forgotten; its occurrences stay counted on its member.
        const oldest = streams[0]!;
        delete g.streams[oldest];
        indexRemove(index, oldest, g.id);
      }
      g.streams[rec.stream] = { m: rec.member.key, c: 0 };
      delete state.retired[rec.stream];
      indexAdd(index, rec.stream, g.id);
      if (rec.first < m.first) m.first = rec.first;
      bump(g, rec.stream, rec.count, rec.at, rec.last, rec.message);
      return;
    }
    case "count": {
      for (const id of groupsOf(index, rec.stream)) {
        const g = state.groups[id];
        if (g) bump(g, rec.stream, rec.count, rec.at, rec.last, rec.message);
      }
      return;
    }
    case "notify": {
      const c = channelState(state, rec.channel, limits.burst);
      for (const id of rec.groups) {
        const g = state.groups[id];
        if (!g) continue;
        for (const m of Object.values(g.members)) m.notified = m.count;
        g.unnamed = 0;
        g.changed = 0;
        g.lastNotifiedAt = rec.at;
        g.notices++;
      }
      c.tokens = rec.tokens;
      c.tokensAt = rec.at;
      c.notices++;
      for (const card of rec.cards) {
        c.queue.push(card);
        c.sent.push(card.at);
      }
      c.sent.sort((a, b) => a - b);
      if (c.sent.length > limits.keepSent) c.sent.splice(0, c.sent.length - limits.keepSent);
      return;
    }
    case "handoff": {
      const c = state.channels[rec.channel];
      if (!c) return;
      c.queue = c.queue.filter((card) => !rec.ids.includes(card.id));
      for (const _ of rec.ids) c.released.push(rec.at);
      if (c.released.length > limits.keepSent) c.released.splice(0, c.released.length - limits.keepSent);
      return;
    }
    case "expire": {
      for (const id of rec.groups) {
        const g = state.groups[id];
        if (!g) continue;
        for (const [stream, { c }] of Object.entries(g.streams)) {
          indexRemove(index, stream, id);
          delete state.retired[stream]; // re-inserted last: object key order is the age order
          state.retired[stream] = c;
        }
        delete state.groups[id];
      }
      const retired = Object.keys(state.retired);
      for (let i = 0; i < retired.length - limits.maxRetired; i++) delete state.retired[retired[i]!];
      return;
    }
  }
}

/**
 * When a group is next due for a notification, by Alertmanager's rules; undefined when not. A
 * repeat is only due while the problem goes on (an occurrence within a group interval of the
 * repeat time): Events never resolve, so "still happening" long after the last one would mislead.
 */
export function dueAt(g: GroupState): number | undefined {
  if (g.lastNotifiedAt === undefined) return g.createdAt + g.timing.waitMs;
  if (g.unnamed > 0) return g.lastNotifiedAt + g.timing.intervalMs;
  if (g.changed > 0) {
    const at = g.lastNotifiedAt + g.timing.repeatMs;
    return g.lastOccurrenceAt + g.timing.intervalMs >= at ? at : undefined;
  }
  return undefined;
}

/**
 * How far ahead of its time a group joins a notification that goes out anyway: groups that start
 * within one group_wait of each other are one burst, and updates and repeats due within a tenth
 * of their interval ride along, so a storm's groups stay in step instead of trickling out.
 */
export function horizon(g: GroupState): number {
  if (g.lastNotifiedAt === undefined) return g.timing.waitMs;
  return (g.unnamed > 0 ? g.timing.intervalMs : g.timing.repeatMs) / 10;
}

/** A group with nothing to say and no occurrence for a repeat interval is over; a recurrence starts a new one. */
export function isExpired(g: GroupState, now: number): boolean {
  return dueAt(g) === undefined && now - g.lastOccurrenceAt >= Math.max(g.timing.repeatMs, g.timing.intervalMs);
}
