/**
 * Replays recorded events through the dispatcher's pipeline on a virtual clock taken from the
 * events' own timestamps, so an hour-long storm replays in seconds. Deliveries are recorded
 * instead of sent: the body of each is exactly what would be POSTed to Feishu.
 */
import { normalizeEvent } from "../../sdk/index.ts";
import type { Logger } from "../log.ts";
import { Pipeline, type Delivery, type HandlerHost, type LoadedHandler } from "../pipeline/pipeline.ts";
import type { InputItem } from "./read-events.ts";

export interface ReplaySummary {
  events: number;
  alarms: number;
  requests: number;
  bytes: number;
  handlerErrors: number;
}

export interface ReplayOptions {
  host: HandlerHost;
  handlers: readonly LoadedHandler[];
  cluster: string;
  timezone: string;
  logger: Logger;
  onDelivery?: (d: Delivery) => void;
}

/** Event time in ms, for ordering; items without a usable time keep their place. */
function eventTime(item: InputItem): number {
  return Date.parse(normalizeEvent(item.object).lastTimestamp);
}

export async function replay(items: readonly InputItem[], opts: ReplayOptions): Promise<{ deliveries: Delivery[]; summary: ReplaySummary }> {
  const deliveries: Delivery[] = [];
  const pipeline = new Pipeline({
    host: opts.host,
    handlers: () => opts.handlers,
    cluster: opts.cluster,
    timezone: opts.timezone,
    logger: opts.logger,
    deliver: (d) => {
      deliveries.push(d);
      opts.onDelivery?.(d);
    },
  });
  // Stable sort by event time; untimed items inherit the clock of the item before them.
  const timed = items.map((item, index) => ({ item, index, t: eventTime(item) }));
  let last = timed.find((x) => !Number.isNaN(x.t))?.t ?? 0;
  for (const x of timed) {
    if (Number.isNaN(x.t)) x.t = last;
    else last = x.t;
  }
  timed.sort((a, b) => a.t - b.t || a.index - b.index);
  let clock = 0;
  for (const { item, t } of timed) {
    clock = Math.max(clock, t);
    await pipeline.process(item.object, item.type, clock);
  }
  const s = pipeline.stats;
  return {
    deliveries,
    summary: {
      events: s.events,
      alarms: s.alarms,
      requests: deliveries.length,
      bytes: deliveries.reduce((n, d) => n + d.bytes, 0),
      handlerErrors: s.handlerErrors,
    },
  };
}
