/**
 * The outbox between the pipeline and the sinks. Every Delivery is spooled (on disk when there
 * is a state dir) before `enqueue` resolves, and leaves the spool only once a sink confirmed it
 * or refused it for good (dead letter + self-alarm). One lane per channel sends within the
 * webhook's rate budget, coalesces backlogs into digest cards, and rides out outages (lane.ts).
 * Delivery is at least once: a lost answer means a resend, recognisable by the fingerprint.
 *
 * The outbox routes by channel name only; grouping alarms happens before it. It does drop one
 * kind of copy: a Delivery whose `id` the spool already holds (or sent moments ago), which is
 * how the grouper's notification log hands a card on again after a crash, so that hand-off is
 * exactly once. Grouped cards (a Delivery with a `kind`) are sent as they are, never digested.
 */
import path from "node:path";
import { hash } from "../../sdk/index.ts";
import { channelKey } from "../channels.ts";
import type { Logger } from "../log.ts";
import type { Delivery } from "../pipeline/pipeline.ts";
import { fitsFeishuBudget, FEISHU_RATE } from "../sinks/feishu.ts";
import type { MessageKind, SendFailure, SendResult, Sink } from "../sinks/sink.ts";
import { readIfExists, writeFileAtomic } from "../state/atomic-file.ts";
import { alarmFacts, type DeliveryFacts } from "./alarm-facts.ts";
import { createDeadLetters } from "./dead-letters.ts";
import { Lane } from "./lane.ts";
import { selfAlarmCard, type SelfAlarmInput } from "./notices.ts";
import { createRateGate, type RateGate } from "./rate-gate.ts";
import { DEFAULT_SPOOL_CAP_BYTES, Spool } from "./spool.ts";

export interface OutboxOptions {
  /** Directory for the spool, dead letters and channel state (`<stateDir>/outbox/`); memory only when absent. */
  stateDir?: string;
  /** Sinks by channel name (names are case-insensitive, `_` = `-`). */
  sinks: ReadonlyMap<string, Sink>;
  /** Where deliveries for unknown channels go, and self-alarms about broken channels. Default "default". */
  defaultChannel?: string;
  logger: Logger;
  /** Wall clock in ms. Default Date.now. */
  clock?: () => number;
  /** Spool cap; over it the oldest alarms are folded into a summary. Default 4 MiB. */
  spoolCapBytes?: number;
  /** Timezone for digest and notice times. Default "UTC". */
  timezone?: string;
  /** Outages shorter than this end without a "back online" notice. Default 60 s. */
  noticeAfterMs?: number;
  /** Attempts per alarm against server errors (5xx, gateway pages) before giving up. Default 10. */
  maxServiceAttempts?: number;
  /** One self-alarm per channel and code in this window; more are counted into the next. Default 10 min. */
  selfAlarmQuietMs?: number;
  /** Randomness for jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface OutboxStats {
  /** Alarms not yet delivered (folded ones included). */
  pending: number;
  /** Live spool size in bytes. */
  spoolBytes: number;
  /** Messages (alarms, digests, notices) a sink confirmed. */
  sent: number;
  /** Every attempt's outcome: "0", a service code, "http <status>" or "transport". */
  sentByCode: Record<string, number>;
  /** Messages refused for good and written to the dead-letter file. */
  deadLetters: number;
  /** Alarms folded into summaries because the spool was over its cap. */
  folded: number;
  /** True when no channel is offline. */
  online: boolean;
  /** Alarms confirmed delivered, on their own or in a digest. */
  alarmsDelivered: number;
  digests: number;
  selfAlarms: number;
  /** Deliveries that named a channel that is not configured (sent to the default channel). */
  unknownChannel: number;
  /** Deliveries dropped on enqueue because the spool held (or had just let go of) their `id`. */
  duplicates: number;
  /** Spool file I/O since start: bytes appended, bytes rewritten by compaction, fsyncs. */
  spoolIo: { appendedBytes: number; rewrittenBytes: number; fsyncs: number };
}

export interface Outbox {
  /** Spools the delivery; resolves once it is durable. Rejects after stop(). */
  enqueue(d: Delivery & DeliveryFacts): Promise<void>;
  /** Starts sending with real timers. */
  start(): void;
  /** Stops sending (an attempt in flight finishes) and closes the spool. Pending alarms stay spooled. */
  stop(): Promise<void>;
  /** Resolves once nothing is pending; rejects after timeoutMs (default 30 s). */
  drain(timeoutMs?: number): Promise<void>;
  stats(): OutboxStats;
  /**
   * Does every lane's due work once, by the injected clock, and resolves with when work is next
   * due (Infinity: nothing until an enqueue). For tests that drive virtual time; not with start().
   */
  pump(): Promise<number>;
}

/** Codes that say the channel itself is unusable: its self-alarm goes to the default channel. */
const CHANNEL_UNUSABLE = new Set([19001, 19007, 19021, 19022, 93000, 310000, 401, 403, 404, 410]);

const STATE_FILE = "channels.json";

function resultKey(result: SendResult): string {
  if (result.ok) return "0";
  if (result.code !== null) return String(result.code);
  return result.httpStatus === undefined ? "transport" : `http ${result.httpStatus}`;
}

interface ChannelState {
  offlineSince?: number;
}

/** Which channels were offline when the last process stopped; a damaged file only loses that. */
async function loadChannelState(file: string | undefined, log: Logger): Promise<Record<string, ChannelState>> {
  const text = file === undefined ? undefined : await readIfExists(file);
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, ChannelState>;
  } catch (err) {
    log.warn({ err: (err as Error).message }, "channel state file is damaged; assuming every channel online");
    return {};
  }
}

export async function createOutbox(opts: OutboxOptions): Promise<Outbox> {
  const log = opts.logger;
  const clock = opts.clock ?? Date.now;
  const random = opts.random ?? Math.random;
  const timezone = opts.timezone ?? "UTC";
  const capBytes = opts.spoolCapBytes ?? DEFAULT_SPOOL_CAP_BYTES;
  const defaultKey = channelKey(opts.defaultChannel ?? "default");
  const quietMs = opts.selfAlarmQuietMs ?? 10 * 60_000;
  const stateFile = opts.stateDir === undefined ? undefined : path.join(opts.stateDir, "outbox", STATE_FILE);

  const spool = await Spool.open({ ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }), capBytes, logger: log });
  const deadLetters = createDeadLetters(opts.stateDir, log);
  const saved = await loadChannelState(stateFile, log);
  const channelState: Record<string, ChannelState> = {};
  let stateWrite: Promise<void> = Promise.resolve();

  const stats = { sent: 0, sentByCode: {} as Record<string, number>, deadLetters: 0, alarmsDelivered: 0, digests: 0, selfAlarms: 0, unknownChannel: 0, duplicates: 0 };
  const unknownSeen = new Set<string>();
  const selfAlarmsSent = new Map<string, { at: number; suppressed: number }>();

  const sinks = new Map<string, Sink>();
  for (const [name, sink] of opts.sinks) sinks.set(channelKey(name), sink);
  if (!sinks.has(defaultKey)) log.warn({ defaultChannel: defaultKey }, "no sink for the default channel: alarms for unknown channels cannot be delivered");

  // Channels sharing a webhook share its budget.
  const gates = new Map<string, RateGate>();
  const gateFor = (sink: Sink): RateGate => {
    const key = sink.rateKey ?? sink.name;
    let gate = gates.get(key);
    if (gate === undefined) gates.set(key, (gate = createRateGate(sink.rateLimits ?? FEISHU_RATE)));
    return gate;
  };

  function saveState(channel: string, offlineSince: number | null): void {
    if (offlineSince === null) delete channelState[channel];
    else channelState[channel] = { offlineSince };
    if (stateFile === undefined) return;
    const text = JSON.stringify(channelState);
    stateWrite = stateWrite
      .then(() => writeFileAtomic(stateFile, text))
      .catch((err: unknown) => log.error({ err }, "could not save the channels' offline state"));
  }

  async function raiseSelfAlarm(from: string, failure: SendFailure, about: SelfAlarmInput["about"]): Promise<void> {
    const target = failure.code !== null && CHANNEL_UNUSABLE.has(failure.code) && from !== defaultKey && lanes.has(defaultKey) ? defaultKey : from;
    const key = `${from}\u0000${failure.code ?? failure.httpStatus ?? "none"}`;
    const now = clock();
    const last = selfAlarmsSent.get(key);
    if (last !== undefined && now - last.at < quietMs) {
      last.suppressed++;
      log.warn({ channel: from, code: failure.code, suppressed: last.suppressed }, "self-alarm held back: one was sent for this channel and code recently");
      return;
    }
    selfAlarmsSent.set(key, { at: now, suppressed: 0 });
    const body = selfAlarmCard({ channel: from, failure, about, suppressed: last?.suppressed ?? 0, timezone, nowMs: now });
    const code = failure.code === null ? `HTTP ${failure.httpStatus ?? "?"}` : String(failure.code);
    stats.selfAlarms++;
    const { durable } = spool.add({
      kind: "self-alarm",
      channel: target,
      enqueuedAt: now,
      at: new Date(now).toISOString(),
      handler: "edge-alarm",
      eventUid: "",
      fingerprint: hash(`self\u0000${from}\u0000${code}`).slice(0, 12),
      body,
      facts: { title: `delivery to channel ${from} failed`, reason: "DeliveryFailed", namespace: "", object: `channel ${from}`, message: `code ${code}: ${failure.msg}`.slice(0, 300) },
    });
    wake(target);
    await durable;
  }

  const lanes = new Map<string, Lane>();
  for (const [channel, sink] of sinks) {
    const offlineSince = saved[channel]?.offlineSince;
    if (offlineSince !== undefined) channelState[channel] = { offlineSince };
    lanes.set(
      channel,
      new Lane({
        channel,
        sink,
        gate: gateFor(sink),
        spool,
        clock,
        random,
        logger: log,
        timezone,
        spoolCapBytes: capBytes,
        fits: sink.fits ?? fitsFeishuBudget,
        noticeAfterMs: opts.noticeAfterMs ?? 60_000,
        maxServiceAttempts: opts.maxServiceAttempts ?? 10,
        ...(offlineSince === undefined ? {} : { offlineSince }),
        record(result: SendResult, kind: MessageKind, alarms: number) {
          const key = resultKey(result);
          stats.sentByCode[key] = (stats.sentByCode[key] ?? 0) + 1;
          if (!result.ok) return;
          stats.sent++;
          stats.alarmsDelivered += alarms;
          if (kind === "digest") stats.digests++;
        },
        deadLetter(letter) {
          stats.deadLetters++;
          return deadLetters.write(letter);
        },
        selfAlarm: raiseSelfAlarm,
        saveState,
      }),
    );
  }

  // Alarms spooled for a channel that is no longer configured go to the default channel.
  for (const channel of spool.channels()) {
    if (lanes.has(channel)) continue;
    if (lanes.has(defaultKey)) log.warn({ channel, moved: spool.reroute(channel, defaultKey) }, "spooled alarms name a channel that is no longer configured; sending them to the default channel");
    else log.error({ channel }, "spooled alarms name a channel that is no longer configured, and there is no default channel; they stay spooled");
  }

  function route(name: string): string | undefined {
    const key = channelKey(name);
    if (lanes.has(key)) return key;
    stats.unknownChannel++;
    // Warn once per name; the counter keeps the total.
    if (!unknownSeen.has(key)) {
      unknownSeen.add(key);
      log.warn({ channel: name, fallback: defaultKey }, "an alarm names a channel that is not configured; sending it to the default channel");
    }
    return lanes.has(defaultKey) ? defaultKey : undefined;
  }

  // Real-time driving: one loop per lane, sleeping until its next due time or a wake-up.
  let running = false;
  let stopped = false;
  const loops: Promise<void>[] = [];
  const wakers = new Map<string, () => void>();
  const woken = new Set<string>();

  function wake(channel: string): void {
    const waker = wakers.get(channel);
    if (waker === undefined) woken.add(channel);
    else waker();
  }

  function sleep(channel: string, untilMs: number): Promise<void> {
    if (woken.delete(channel)) return Promise.resolve();
    return new Promise((resolve) => {
      const delay = untilMs - clock();
      // setTimeout takes at most 2^31-1 ms; a later deadline just wakes early and sleeps again.
      const timer = Number.isFinite(delay) ? setTimeout(done, Math.min(Math.max(0, delay), 2 ** 31 - 1)) : undefined;
      function done(): void {
        clearTimeout(timer);
        wakers.delete(channel);
        resolve();
      }
      wakers.set(channel, done);
    });
  }

  async function runLane(lane: Lane): Promise<void> {
    while (running) {
      let next: number;
      try {
        next = await lane.step();
      } catch (err) {
        log.error({ err, channel: lane.channel }, "outbox lane failed; trying again in 5 s");
        next = clock() + 5000;
      }
      if (!running) break;
      await sleep(lane.channel, next);
    }
  }

  return {
    async enqueue(d) {
      if (stopped) throw new Error("outbox is stopped: the delivery was not spooled");
      const copy = d.id === undefined ? undefined : spool.copyOf(d.id);
      if (copy !== undefined) {
        stats.duplicates++;
        log.info({ id: d.id, channel: d.channel }, "a card with this delivery id is already spooled or was just sent: this copy is dropped");
        await copy;
        return;
      }
      const channel = route(d.channel);
      if (channel === undefined) {
        stats.deadLetters++;
        await deadLetters.write({
          time: new Date(clock()).toISOString(), channel: d.channel, kind: "alarm", code: null,
          msg: "no channel of that name and no default channel configured", fingerprints: [d.fingerprint], alarms: 1,
          title: alarmFacts(d).title, handler: d.handler, eventUid: d.eventUid,
        });
        return;
      }
      const { durable } = spool.add({
        kind: "alarm",
        channel,
        enqueuedAt: clock(),
        at: d.at,
        handler: d.handler,
        eventUid: d.eventUid,
        fingerprint: d.fingerprint,
        ...(d.group === undefined ? {} : { group: d.group }),
        ...(d.id === undefined ? {} : { deliveryId: d.id }),
        ...(d.kind === undefined ? {} : { cardKind: d.kind }),
        body: d.body,
        facts: alarmFacts(d),
      });
      wake(channel);
      await durable;
    },
    start() {
      if (running || stopped) return;
      running = true;
      for (const lane of lanes.values()) loops.push(runLane(lane));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      running = false;
      for (const waker of [...wakers.values()]) waker();
      await Promise.all(loops);
      await stateWrite;
      await spool.close();
    },
    drain(timeoutMs = 30_000) {
      // Polled: drain is for shutdown and tests, and a poll cannot miss a state change.
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          if (spool.pendingAlarms() === 0) return resolve();
          if (Date.now() - started >= timeoutMs) return reject(new Error(`outbox: ${spool.pendingAlarms()} alarms still pending after ${timeoutMs} ms`));
          setTimeout(check, 20);
        };
        check();
      });
    },
    stats() {
      const io = spool.logStats;
      return {
        ...stats,
        sentByCode: { ...stats.sentByCode },
        pending: spool.pendingAlarms(),
        spoolBytes: spool.liveBytes,
        folded: spool.folded,
        online: [...lanes.values()].every((l) => l.online),
        spoolIo: { appendedBytes: io?.appendedBytes ?? 0, rewrittenBytes: io?.rewrittenBytes ?? 0, fsyncs: io?.fsyncs ?? 0 },
      };
    },
    async pump() {
      if (running) throw new Error("outbox.pump() drives virtual time; it cannot run beside start()");
      // A lane can give another work (a self-alarm): step again until no lane was woken.
      let next: number[];
      do {
        woken.clear();
        next = await Promise.all([...lanes.values()].map((lane) => lane.step()));
      } while (woken.size > 0);
      return Math.min(Number.POSITIVE_INFINITY, ...next);
    },
  };
}
