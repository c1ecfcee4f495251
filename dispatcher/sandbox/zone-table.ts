/**
 * A timezone's UTC offsets over a window around `now`, computed on the host with Intl (through
 * dispatcher/time-format.ts) and handed to the guest once, so `ctx.formatTime` runs inside
 * QuickJS without a host call. A host call costs ~20-40 µs and leaves ~20 host objects of
 * garbage per call (quickjs-emscripten's callback scopes), which grew the worker's heap by tens
 * of MiB between major GCs. Times outside the window still go to the host function.
 */
import { formatTime } from "../time-format.ts";

export interface ZoneTable {
  /** The window [from, to) in epoch ms. */
  from: number;
  to: number;
  /** starts[i] is when offsets[i] (minutes east of UTC) begins; ascending, starts[0] === from. */
  starts: number[];
  offsets: number[];
}

const DAY = 86_400_000;
const BEFORE = 400 * DAY;
const AFTER = 32 * DAY;
/**
 * Sampling step; each change found is then bisected to the millisecond. No zone changes its offset
 * twice within a week (the closest pairs in tzdata are Ramadan suspensions of DST, about a month
 * apart). Building a table costs ~100 Intl calls, a few ms, on the worker's clock.
 */
const STEP = 7 * DAY;

const tables = new Map<string, ZoneTable>();
const unusable = new Set<string>();

/** Minutes east of UTC at `ms`, read from the same formatter the host formatTime uses. */
function offsetAt(ms: number, timezone: string): number | undefined {
  const zoned = formatTime(new Date(ms).toISOString(), timezone, "zoned");
  const m = /([+-])(\d\d):(\d\d)$/.exec(zoned);
  if (!m) return undefined;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === "-" ? -minutes : minutes;
}

/** The ms at which the offset changes from `before` (at lo) to something else (at hi). */
function changeBetween(lo: number, hi: number, before: number, timezone: string): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, timezone) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

function build(timezone: string, from: number, to: number): ZoneTable | undefined {
  let previous = offsetAt(from, timezone);
  if (previous === undefined) return undefined;
  const table: ZoneTable = { from, to, starts: [from], offsets: [previous] };
  for (let t = from + STEP; t - STEP < to; t += STEP) {
    const at = Math.min(t, to);
    const offset = offsetAt(at, timezone);
    // An offset with seconds (historic local mean time) has no ±hh:mm form: leave it to the host.
    if (offset === undefined) return undefined;
    if (offset !== previous) {
      table.starts.push(changeBetween(at - STEP, at, previous, timezone));
      table.offsets.push(offset);
      previous = offset;
    }
  }
  return table;
}

/**
 * The table for `timezone` covering at least a year before and a day after `now` (RFC 3339), or
 * null when the guest must ask the host (unparseable `now`, unknown zone, odd offsets).
 */
export function zoneTableFor(timezone: string, now: string): ZoneTable | null {
  const nowMs = Date.parse(now);
  if (Number.isNaN(nowMs) || unusable.has(timezone)) return null;
  const cached = tables.get(timezone);
  if (cached && nowMs - 366 * DAY >= cached.from && nowMs + DAY <= cached.to) return cached;
  let table: ZoneTable | undefined;
  try {
    table = build(timezone, nowMs - BEFORE, nowMs + AFTER);
  } catch (e) {
    // formatTime throws a RangeError for an unknown zone; the guest's host fallback reports it.
    if (!(e instanceof RangeError)) throw e;
  }
  if (!table) {
    unusable.add(timezone);
    return null;
  }
  tables.set(timezone, table);
  return table;
}
