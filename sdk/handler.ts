import type { KubeEvent } from "./event.ts";
import type { HandlerContext } from "./context.ts";
import type { FeishuCard } from "./card.ts";

/** One alarm: a Feishu card, plus how to group and where to send it. */
export interface Alarm {
  card: FeishuCard;
  /** Occurrences with the same group key are one alarm (see docs on grouping). */
  group?: string;
  /** A channel name from the dispatcher's configuration; the default channel when absent. */
  channel?: string;
}

export type HandleResult = Alarm | Alarm[] | null | undefined;

/**
 * A declarative filter, checked by the dispatcher before the handler runs (so events that cannot
 * match never cost a sandbox call). Each given field must equal one of the listed values.
 */
export interface MatchSpec {
  type?: string | string[];
  reason?: string | string[];
  kind?: string | string[];
  namespace?: string | string[];
}

/** A duration as Alertmanager writes it: `500ms`, `30s`, `5m`, `1h`, `1h30m`. */
export type Duration = `${number}${"ms" | "s" | "m" | "h"}` | `${number}h${number}m`;

/**
 * This handler's grouping timers, over the dispatcher's (EDGE_ALARM_GROUP_WAIT, …): how long a new
 * group collects before its first card, how often objects joining it are sent, how often an
 * ongoing group is re-notified. Reported when the bundle loads.
 */
export interface GroupingTimers {
  wait?: Duration;
  interval?: Duration;
  repeat?: Duration;
}

export interface Handler {
  match?: MatchSpec | ((event: KubeEvent) => boolean);
  grouping?: GroupingTimers;
  handle(event: KubeEvent, ctx: HandlerContext): HandleResult;
}

/**
 * Declare a handler; it only gives the object its type.
 * @example export default defineHandler({ match: { type: "Warning" }, handle: (e, ctx) => ({ card: … }) })
 */
export function defineHandler(handler: Handler): Handler {
  return handler;
}

function listed(value: string, allowed: string | string[] | undefined): boolean {
  return allowed === undefined || (Array.isArray(allowed) ? allowed.includes(value) : allowed === value);
}

/** Whether an event passes a MatchSpec. Shared by the dispatcher and the sandbox glue. */
export function matches(spec: MatchSpec, event: KubeEvent): boolean {
  return (
    listed(event.type, spec.type) &&
    listed(event.reason, spec.reason) &&
    listed(event.involvedObject.kind, spec.kind) &&
    listed(event.involvedObject.namespace || event.metadata.namespace, spec.namespace)
  );
}
