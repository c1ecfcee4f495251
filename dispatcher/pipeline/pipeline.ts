/**
 * Event → handlers → deliveries. This is the one path both `replay` and the in-cluster
 * dispatcher run: normalise the event, drop repeats of an already handled stream, run every
 * matching handler in the sandbox (each failure is contained and logged), and turn each alarm
 * into the exact Feishu request body within the size budget.
 */
import { fingerprint, matches, normalizeEvent, type Alarm, type ContextData, type KubeEvent, type MatchSpec } from "../../sdk/index.ts";
import type { Logger } from "../log.ts";
import { buildFeishuBody, type FeishuBody } from "./feishu-body.ts";
import { Occurrences, type Occurrence } from "./occurrences.ts";

export interface LoadedHandler {
  name: string;
  /** Declarative filter reported by the bundle at load time; checked here, before any sandbox call. */
  match?: MatchSpec;
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
  deliver: (d: Delivery) => void | Promise<void>;
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
    const occurrence = this.occurrences.observe(event);
    if (occurrence !== "new") {
      if (occurrence === "repeat") this.stats.repeats++;
      return { event, occurrence, deliveries: 0 };
    }
    let deliveries = 0;
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
      for (const alarm of outcome.alarms) {
        this.stats.alarms++;
        const built = buildFeishuBody(alarm.card);
        if (built.truncated) {
          this.stats.truncated++;
          this.#opts.logger.warn({ handler: handler.name, eventUid: event.metadata.uid }, `handler ${handler.name} produced a card over the size budget; truncated`);
        }
        await this.#opts.deliver({
          at: nowIso,
          channel: alarm.channel ?? this.#channel,
          handler: handler.name,
          eventUid: event.metadata.uid,
          fingerprint: fingerprint(this.#opts.cluster, event),
          ...(alarm.group === undefined ? {} : { group: alarm.group }),
          ...built,
        });
        deliveries++;
      }
    }
    return { event, occurrence, deliveries };
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
