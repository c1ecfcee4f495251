/**
 * Replays recorded events through the dispatcher's pipeline on a virtual clock taken from the
 * events' own timestamps, so an hour-long storm replays in seconds. Deliveries are recorded
 * instead of sent: the body of each is exactly what would be POSTed to Feishu. Grouping runs
 * on the same virtual clock: timers due before an event fire before it, and at the end the
 * clock runs on until nothing is pending, so the last updates and repeats show too.
 */
import { normalizeEvent } from "../../sdk/index.ts";
import { VirtualClock } from "../grouping/clock.ts";
import { Grouper } from "../grouping/grouper.ts";
import { DEFAULT_GROUPING, type GroupingSettings } from "../grouping/settings.ts";
import type { Logger } from "../log.ts";
import { Pipeline, type Delivery, type HandlerHost, type LoadedHandler } from "../pipeline/pipeline.ts";
import type { InputItem } from "./read-events.ts";

export interface ReplaySummary {
  events: number;
  alarms: number;
  requests: number;
  bytes: number;
  handlerErrors: number;
  /** Groups started (0 without grouping). */
  groups: number;
  /**
   * Occurrences (handler alarms and counted repeats of alarmed streams) that caused no request
   * of their own: occurrences − requests, never below 0. 0 without grouping.
   */
  suppressed: number;
}

export interface ReplayOptions {
  host: HandlerHost;
  handlers: readonly LoadedHandler[];
  cluster: string;
  timezone: string;
  logger: Logger;
  onDelivery?: (d: Delivery) => void;
  /** Grouping settings; `false` replays without grouping (one request per alarm). Default: the defaults. */
  grouping?: GroupingSettings | false;
}

/** Event time in ms, for ordering; items without a usable time keep their place. */
function eventTime(item: InputItem): number {
  return Date.parse(normalizeEvent(item.object).lastTimestamp);
}

export async function replay(items: readonly InputItem[], opts: ReplayOptions): Promise<{ deliveries: Delivery[]; summary: ReplaySummary }> {
  const deliveries: Delivery[] = [];
  const deliver = (d: Delivery) => {
    deliveries.push(d);
    opts.onDelivery?.(d);
  };
  // Stable sort by event time; untimed items inherit the clock of the item before them.
  const timed = items.map((item, index) => ({ item, index, t: eventTime(item) }));
  let last = timed.find((x) => !Number.isNaN(x.t))?.t ?? 0;
  for (const x of timed) {
    if (Number.isNaN(x.t)) x.t = last;
    else last = x.t;
  }
  timed.sort((a, b) => a.t - b.t || a.index - b.index);

  const clock = new VirtualClock(timed[0]?.t ?? 0);
  const grouper = opts.grouping === false
    ? undefined
    : await Grouper.open({ cluster: opts.cluster, timezone: opts.timezone, logger: opts.logger, clock, deliver, settings: opts.grouping ?? DEFAULT_GROUPING });
  const pipeline = new Pipeline({
    host: opts.host,
    handlers: () => opts.handlers,
    cluster: opts.cluster,
    timezone: opts.timezone,
    logger: opts.logger,
    deliver,
    ...(grouper ? { grouper } : {}),
  });
  for (const { item, t } of timed) {
    await clock.advanceTo(Math.max(clock.now(), t));
    await pipeline.process(item.object, item.type, clock.now());
  }
  await clock.runUntilIdle();
  await grouper?.close();
  const s = pipeline.stats;
  return {
    deliveries,
    summary: {
      events: s.events,
      alarms: s.alarms,
      requests: deliveries.length,
      bytes: deliveries.reduce((n, d) => n + d.bytes, 0),
      handlerErrors: s.handlerErrors,
      groups: grouper?.stats.groups ?? 0,
      suppressed: grouper ? Math.max(0, grouper.stats.occurrences - deliveries.length) : 0,
    },
  };
}
