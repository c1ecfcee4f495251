/**
 * Event → handlers → deliveries. This is the one path both `replay` and the in-cluster
 * dispatcher run: normalise the event, tell repeats of an already handled stream from new
 * events, run every matching handler in the sandbox (each failure is contained and logged), and
 * either hand each alarm to the grouper (which notifies, batches and repeats groups, see
 * dispatcher/grouping) or, without one, turn it straight into a Feishu request body.
 *
 * With a grouper, a repeat of an alarmed stream is an occurrence of its group (no handler call),
 * and a repeat of a stream no group holds runs the handlers again: a handler that waits for a
 * count, or whose group ended, gets its say. Without one, repeats are dropped.
 */
import { fingerprint, matches, normalizeEvent, type Alarm, type ContextData, type KubeEvent, type MatchSpec } from "../../sdk/index.ts";
import type { AlarmGrouper } from "../grouping/grouper.ts";
import type { HandlerGrouping } from "../grouping/settings.ts";
import type { Logger } from "../log.ts";
import { buildFeishuBody, type FeishuBody } from "./feishu-body.ts";
import { Occurrences, type Occurrence } from "./occurrences.ts";

export interface LoadedHandler {
  name: string;
  /** Declarative filter reported by the bundle at load time; checked here, before any sandbox call. */
  match?: MatchSpec;
  /** The handler's grouping timers reported at load time (parse with `parseHandlerGrouping`). */
  grouping?: HandlerGrouping;
}

export interface GuestLog {
  level: string;
  message: string;
}

export type HandlerOutcome =
  | { ok: true; alarms: Alarm[]; logs?: GuestLog[] }
  | { ok: false; kind: string; message: string; stack?: string; logs?: GuestLog[] };

/** What runs handlers: the QuickJS sandbox in production, anything with the same shape in tests. */
export interface HandlerHost {
  call(name: string, eventJson: string, ctx: ContextData): Promise<HandlerOutcome>;
}

export interface Delivery {
  /** Pipeline clock time of the event (the replay clock in `replay`). */
  at: string;
  channel: string;
  handler: string;
  eventUid: string;
  fingerprint: string;
  group?: string;
  body: FeishuBody;
  json: string;
  bytes: number;
  truncated: boolean;
  /**
   * Set on grouped notifications: unique per card and the same when the notification log hands a
   * card on again after a crash, so a spool that already holds the id can drop the copy.
   */
  id?: string;
  /** Set on grouped notifications: what the card says about its group(s). */
  kind?: "first" | "update" | "repeat" | "digest";
}

export interface PipelineStats {
  events: number;
  repeats: number;
  alarms: number;
  handlerErrors: number;
  truncated: number;
}

export interface PipelineOptions {
  host: HandlerHost;
  /** The current handler set; read per event so a hot reload takes effect at once. */
  handlers: () => readonly LoadedHandler[];
  cluster: string;
  timezone: string;
  logger: Logger;
  /** Ungrouped deliveries (no `grouper`); a grouper delivers through its own callback. */
  deliver: (d: Delivery) => void | Promise<void>;
  /** Group alarms and repeats (Alertmanager semantics); without it every alarm is delivered at once. */
  grouper?: AlarmGrouper;
  occurrences?: Occurrences;
  defaultChannel?: string;
}

export type WatchType = "ADDED" | "MODIFIED" | "DELETED";

export interface ProcessResult {
  event: KubeEvent;
  occurrence: Occurrence | "deleted";
  deliveries: number;
}

export class Pipeline {
  readonly stats: PipelineStats = { events: 0, repeats: 0, alarms: 0, handlerErrors: 0, truncated: 0 };
  readonly occurrences: Occurrences;
  readonly #opts: PipelineOptions;
  readonly #channel: string;

  constructor(opts: PipelineOptions) {
    this.#opts = opts;
    this.occurrences = opts.occurrences ?? new Occurrences();
    this.#channel = opts.defaultChannel ?? "default";
  }

  /** Remember an event as handled without running handlers (old events of a first list). */
  remember(raw: unknown, now: number): KubeEvent {
    const event = normalizeEvent(raw, new Date(now).toISOString());
    this.occurrences.observe(event);
    return event;
  }

  /** Handle one watch notification. `now` is the pipeline clock (ms since epoch). */
  async process(raw: unknown, type: WatchType, now: number): Promise<ProcessResult> {
    const nowIso = new Date(now).toISOString();
    const event = normalizeEvent(raw, nowIso);
    if (type === "DELETED") {
      // Events expire after --event-ttl; forgetting keeps the map small. A relist cannot bring it back.
      this.occurrences.forget(event);
      return { event, occurrence: "deleted", deliveries: 0 };
    }
    this.stats.events++;
    const grouper = this.#opts.grouper;
    const occurrence = this.occurrences.classify(event);
    if (occurrence !== "new") {
      if (occurrence === "repeat") this.stats.repeats++;
      if (!grouper || occurrence === "seen" || (await grouper.observe(event))) {
        this.occurrences.record(event);
        return { event, occurrence, deliveries: 0 };
      }
    }
    let deliveries = 0;
    for (const { handler, alarm } of await this.#runHandlers(event, nowIso)) {
      this.stats.alarms++;
      const channel = alarm.channel ?? this.#channel;
      const fp = fingerprint(this.#opts.cluster, event);
      if (grouper) {
        // Groups outlive handler versions: the sandbox name's "@<sha>" suffix is not part of them.
        await grouper.add({ handler: handler.name.replace(/@[^@]*$/, ""), channel, alarm, event, fingerprint: fp, ...(handler.grouping ? { grouping: handler.grouping } : {}) });
        continue;
      }
      const built = buildFeishuBody(alarm.card);
      if (built.truncated) {
        this.stats.truncated++;
        this.#opts.logger.warn({ handler: handler.name, eventUid: event.metadata.uid }, `handler ${handler.name} produced a card over the size budget; truncated`);
      }
      await this.#opts.deliver({
        at: nowIso,
        channel,
        handler: handler.name,
        eventUid: event.metadata.uid,
        fingerprint: fp,
        ...(alarm.group === undefined ? {} : { group: alarm.group }),
        ...built,
      });
      deliveries++;
    }
    // Recorded last: a checkpoint saved meanwhile must not mark the event handled before its alarms are logged.
    this.occurrences.record(event);
    return { event, occurrence, deliveries };
  }

  /** Every matching handler's alarms for one event; failures are logged and counted. */
  async #runHandlers(event: KubeEvent, nowIso: string): Promise<Array<{ handler: LoadedHandler; alarm: Alarm }>> {
    const out: Array<{ handler: LoadedHandler; alarm: Alarm }> = [];
    const eventJson = JSON.stringify(event);
    for (const handler of this.#opts.handlers()) {
      if (handler.match && !matches(handler.match, event)) continue;
      const ctx: ContextData = { cluster: this.#opts.cluster, timezone: this.#opts.timezone, now: nowIso, handler: handler.name };
      const outcome = await this.#opts.host.call(handler.name, eventJson, ctx);
      this.#forwardLogs(handler.name, event, outcome.logs);
      if (!outcome.ok) {
        this.stats.handlerErrors++;
        this.#opts.logger.error(
          { handler: handler.name, eventUid: event.metadata.uid, kind: outcome.kind, err: outcome.stack ?? outcome.message },
          `handler ${handler.name} failed (${outcome.kind}): ${outcome.message}`,
        );
        continue;
      }
      for (const alarm of outcome.alarms) out.push({ handler, alarm });
    }
    return out;
  }

  #forwardLogs(handler: string, event: KubeEvent, logs: GuestLog[] | undefined): void {
    if (!logs?.length) return;
    const log = this.#opts.logger.child({ handler, eventUid: event.metadata.uid });
    for (const { level, message } of logs) {
      const method = level === "error" ? "error" : level === "warn" ? "warn" : level === "debug" ? "debug" : "info";
      log[method](message);
    }
  }
}
