/**
 * Host-side time formatting for handlers, backed by Node's Intl (QuickJS has none). The sandbox
 * exposes `formatTime` to handlers as a host function; plain-function runs call it directly.
 */
import type { ContextData, HandlerContext, TimeStyle } from "../sdk/index.ts";

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "longOffset",
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Throws a RangeError naming the zone when it is not a valid IANA timezone. */
export function assertTimezone(timezone: string): void {
  try {
    partsFormatter(timezone);
  } catch {
    throw new RangeError(`unknown timezone ${JSON.stringify(timezone)} (use an IANA name such as Asia/Shanghai)`);
  }
}

export function formatTime(iso: string, timezone: string, style: TimeStyle = "datetime"): string {
  const ms = Date.parse(iso);
  if (!iso || Number.isNaN(ms)) return iso;
  if (style === "iso") return new Date(ms).toISOString().replace(".000Z", "Z");
  const p: Record<string, string> = {};
  for (const part of partsFormatter(timezone).formatToParts(ms)) p[part.type] = part.value;
  const date = `${p.year}-${p.month}-${p.day}`;
  const clock = `${p.hour}:${p.minute}:${p.second}`;
  switch (style) {
    case "date":
      return date;
    case "time":
      return clock;
    case "zoned": {
      const offset = (p.timeZoneName ?? "GMT").replace(/^GMT/, "") || "+00:00";
      return `${date} ${clock} ${offset}`;
    }
    default:
      return `${date} ${clock}`;
  }
}

/** A HandlerContext for running a handler as a plain function (tests, benchmarks). */
export function createContext(data: ContextData): HandlerContext {
  return { ...data, formatTime: (iso, style) => formatTime(iso, data.timezone, style) };
}
