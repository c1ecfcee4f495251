/**
 * Grouping settings: Alertmanager's three timers plus the storm budget, with the defaults and
 * the parsing of `EDGE_ALARM_GROUP_*` environment variables and of a handler's `grouping`
 * declaration. Durations are written like Alertmanager's: `500ms`, `1s`, `5m`, `1h30m`.
 */
import { envReader } from "../env-reader.ts";

/** The three Alertmanager timers, in milliseconds. */
export interface GroupTiming {
  /** group_wait: how long a new group collects occurrences before its first notification. */
  waitMs: number;
  /** group_interval: minimum spacing of notifications that add objects to a group. */
  intervalMs: number;
  /** repeat_interval: an ongoing group (only counts went up) is re-notified this often. */
  repeatMs: number;
}

/** How many notifications a channel may send before due groups are combined into digests. */
export interface StormBudget {
  /** A flush with at least this many due groups becomes one digest. */
  digestGroups: number;
  /** Separate notifications a channel may send back to back (token bucket capacity). */
  burst: number;
  /** One more notification is allowed per this period once the burst is spent. */
  periodMs: number;
}

/** Feishu's custom-bot limits; every card the grouper hands on is planned inside them. */
export interface SendLimits {
  perSecond: number;
  perMinute: number;
}

export interface GroupingSettings {
  timing: GroupTiming;
  storm: StormBudget;
  limits: SendLimits;
  /** Bounds of the in-memory and on-disk state. */
  maxGroups: number;
  maxMembersPerGroup: number;
}

export const DEFAULT_TIMING: Readonly<GroupTiming> = Object.freeze({
  // Kubernetes records a storm's events in one pass (node-controller marks every pod of a node
  // within a second), so a second collects a burst without delaying the first card noticeably.
  waitMs: 1_000,
  // client-go's spam filter lets one write per object through every 5 min after a burst of 25, the
  // kubelet's back-offs cap at 300 s and pods tolerate NotReady for 300 s: a shorter interval
  // would mostly wake up to nothing new, a longer one would hide the eviction wave of a node outage.
  intervalMs: 5 * 60_000,
  // The apiserver's --event-ttl is 1 h; an ongoing problem is re-notified at that pace.
  repeatMs: 60 * 60_000,
});

export const DEFAULT_GROUPING: Readonly<GroupingSettings> = Object.freeze({
  timing: DEFAULT_TIMING,
  storm: Object.freeze({ digestGroups: 2, burst: 5, periodMs: 60_000 }),
  limits: Object.freeze({ perSecond: 5, perMinute: 100 }),
  maxGroups: 2_000,
  maxMembersPerGroup: 5_000,
});

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `1h30m` → 5_400_000. Throws a RangeError that names the accepted form. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) {
    throw new RangeError(`${JSON.stringify(text)} is not a duration (write e.g. 500ms, 1s, 5m, 1h or 1h30m)`);
  }
  let ms = 0;
  for (const [, n, , unit] of s.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * (UNIT_MS[unit!] ?? 0);
  return Math.round(ms);
}

/** 300000 → `5m`; the inverse of parseDuration for display. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest) parts.push(`${rest}ms`);
  return parts.join("");
}

/** A handler's `grouping` declaration as reported by the sandbox at load time. */
export type HandlerGrouping = Partial<GroupTiming>;

const TIMING_LIMITS = { waitMs: [0, 3_600_000], intervalMs: [1_000, 86_400_000], repeatMs: [60_000, 7 * 86_400_000] } as const;

function checkTiming(name: string, key: keyof GroupTiming, ms: number, problems: string[]): boolean {
  const [min, max] = TIMING_LIMITS[key];
  if (ms < min || ms > max) {
    problems.push(`${name} must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${formatDuration(ms)}`);
    return false;
  }
  return true;
}

/**
 * Validate a handler's `grouping: { wait?, interval?, repeat? }` (duration strings). Unknown keys
 * and bad values are problems; the valid parts still apply.
 */
export function parseHandlerGrouping(raw: unknown): { grouping: HandlerGrouping; problems: string[] } {
  const grouping: HandlerGrouping = {};
  const problems: string[] = [];
  if (raw === undefined || raw === null) return { grouping, problems };
  if (typeof raw !== "object" || Array.isArray(raw)) return { grouping, problems: ["grouping must be an object { wait?, interval?, repeat? }"] };
  const keys: Record<string, keyof GroupTiming> = { wait: "waitMs", interval: "intervalMs", repeat: "repeatMs" };
  for (const [k, v] of Object.entries(raw)) {
    const key = keys[k];
    if (!key) {
      problems.push(`grouping has unknown key ${JSON.stringify(k)} (allowed: wait, interval, repeat)`);
      continue;
    }
    if (typeof v !== "string") {
      problems.push(`grouping.${k} must be a duration string such as "5m", got ${typeof v}`);
      continue;
    }
    try {
      const ms = parseDuration(v);
      if (checkTiming(`grouping.${k}`, key, ms, problems)) grouping[key] = ms;
    } catch (err) {
      problems.push(`grouping.${k}: ${(err as Error).message}`);
    }
  }
  return { grouping, problems };
}

/** The timers for one handler: its own declaration over the global settings. */
export function timingFor(global: GroupTiming, handler: HandlerGrouping | undefined): GroupTiming {
  return { ...global, ...handler };
}

/**
 * Settings from the environment, every problem collected (for the dispatcher's ConfigError):
 * EDGE_ALARM_GROUP_WAIT, EDGE_ALARM_GROUP_INTERVAL, EDGE_ALARM_REPEAT_INTERVAL (durations),
 * EDGE_ALARM_DIGEST_GROUPS, EDGE_ALARM_STORM_BURST (whole numbers), EDGE_ALARM_STORM_PERIOD (duration).
 */
export function groupingSettingsFromEnv(env: Record<string, string | undefined>): { settings: GroupingSettings; problems: string[] } {
  const problems: string[] = [];
  const { get, int: whole } = envReader(env, problems);
  const duration = (name: string, key: keyof GroupTiming | undefined, def: number, min = 0, max = Infinity): number => {
    const raw = get(name);
    if (raw === undefined) return def;
    try {
      const ms = parseDuration(raw);
      if (key) return checkTiming(name, key, ms, problems) ? ms : def;
      if (ms < min || ms > max) {
        problems.push(`${name} must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${raw}`);
        return def;
      }
      return ms;
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
      return def;
    }
  };
  const d = DEFAULT_GROUPING;
  const settings: GroupingSettings = {
    timing: {
      waitMs: duration("EDGE_ALARM_GROUP_WAIT", "waitMs", d.timing.waitMs),
      intervalMs: duration("EDGE_ALARM_GROUP_INTERVAL", "intervalMs", d.timing.intervalMs),
      repeatMs: duration("EDGE_ALARM_REPEAT_INTERVAL", "repeatMs", d.timing.repeatMs),
    },
    storm: {
      digestGroups: whole("EDGE_ALARM_DIGEST_GROUPS", d.storm.digestGroups, 2, 1_000),
      burst: whole("EDGE_ALARM_STORM_BURST", d.storm.burst, 1, 100),
      periodMs: duration("EDGE_ALARM_STORM_PERIOD", undefined, d.storm.periodMs, 1_000, 3_600_000),
    },
    limits: { ...d.limits },
    maxGroups: d.maxGroups,
    maxMembersPerGroup: d.maxMembersPerGroup,
  };
  return { settings, problems };
}
