/**
 * Host-side time formatting for handlers (QuickJS has no Intl). The sandbox exposes `formatTime`
 * to handlers as a host function; plain-function runs call it directly.
 *
 * The dispatcher's own zone (TZ, which the Deployment sets) is computed from Date's local-time
 * offset, not with Intl.DateTimeFormat: the first formatter costs ~6 MiB of resident ICU pages and
 * ~1.8 MiB of anonymous memory (measured, Node 24). Other zones,
 * which a handler may ask for, still use Intl.
 */
import type { ContextData, HandlerContext, TimeStyle } from "../sdk/index.ts";

const UTC_NAME = /^(Etc\/)?(UTC|UCT|Universal|Zulu|GMT|GMT0|Greenwich)$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function offsetFormatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "longOffset" });
    formatters.set(timezone, f);
  }
  return f;
}

/** Minutes east of UTC in `timezone` at `ms`. Throws a RangeError for an unknown zone. */
function offsetMinutes(ms: number, timezone: string): number {
  if (UTC_NAME.test(timezone)) return 0;
  // V8 resolves TZ with the same ICU zone data that Intl uses, so both give the same offsets.
  if (timezone === process.env.TZ && isCanonicalZone(timezone)) return -new Date(ms).getTimezoneOffset();
  const name = offsetFormatter(timezone).formatToParts(ms).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const m = /^GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

const canonical = new Map<string, boolean>();

/**
 * Whether ICU knows the zone by this name. V8 would take an unknown TZ for UTC without a word; the
 * list holds canonical names only (Asia/Kolkata, not Asia/Calcutta), so aliases go to Intl.
 */
function isCanonicalZone(timezone: string): boolean {
  let known = canonical.get(timezone);
  if (known === undefined) {
    known = Intl.supportedValuesOf("timeZone").includes(timezone);
    canonical.set(timezone, known);
  }
  return known;
}

/** Throws a RangeError naming the zone when it is not a valid IANA timezone. */
export function assertTimezone(timezone: string): void {
  if (UTC_NAME.test(timezone) || isCanonicalZone(timezone)) return;
  try {
    offsetFormatter(timezone);
  } catch {
    throw new RangeError(`unknown timezone ${JSON.stringify(timezone)} (use an IANA name such as Asia/Shanghai)`);
  }
}

/**
 * tzdata's zone abbreviations by UTC offset in minutes, for zones where Intl (en-US) only says
 * "GMT+8". Go prints these (time.Time.String), so the `go` style needs them; zones not listed
 * fall back to Intl's US names (EST, PDT, HST, …) and then to tzdata's numeric form (+08, +0530).
 */
const CST_CHINA = { 480: "CST", 540: "CDT" };
const CET = { 60: "CET", 120: "CEST" };
const EET = { 120: "EET", 180: "EEST" };
const ZONE_ABBREVIATIONS: Record<string, Record<number, string>> = {
  "Asia/Shanghai": CST_CHINA, "Asia/Chongqing": CST_CHINA, "Asia/Harbin": CST_CHINA, PRC: CST_CHINA,
  "Asia/Taipei": CST_CHINA, "Asia/Macau": CST_CHINA, "Asia/Hong_Kong": { 480: "HKT", 540: "HKST" },
  "Asia/Tokyo": { 540: "JST" }, "Asia/Seoul": { 540: "KST" }, "Asia/Kolkata": { 330: "IST" }, "Asia/Calcutta": { 330: "IST" },
  "Asia/Karachi": { 300: "PKT" }, "Asia/Jakarta": { 420: "WIB" }, "Asia/Manila": { 480: "PST" }, "Asia/Jerusalem": { 120: "IST", 180: "IDT" },
  "Europe/London": { 0: "GMT", 60: "BST" }, "Europe/Dublin": { 0: "GMT", 60: "IST" }, "Europe/Lisbon": { 0: "WET", 60: "WEST" },
  "Europe/Berlin": CET, "Europe/Paris": CET, "Europe/Madrid": CET, "Europe/Rome": CET, "Europe/Amsterdam": CET,
  "Europe/Brussels": CET, "Europe/Vienna": CET, "Europe/Zurich": CET, "Europe/Stockholm": CET, "Europe/Oslo": CET,
  "Europe/Copenhagen": CET, "Europe/Warsaw": CET, "Europe/Prague": CET, "Europe/Budapest": CET,
  "Europe/Athens": EET, "Europe/Helsinki": EET, "Europe/Kyiv": EET, "Europe/Kiev": EET, "Europe/Bucharest": EET,
  "Europe/Sofia": EET, "Africa/Cairo": EET, "Europe/Moscow": { 180: "MSK" },
  "Africa/Johannesburg": { 120: "SAST" }, "Africa/Lagos": { 60: "WAT" }, "Africa/Nairobi": { 180: "EAT" },
  "Australia/Sydney": { 600: "AEST", 660: "AEDT" }, "Australia/Melbourne": { 600: "AEST", 660: "AEDT" },
  "Australia/Brisbane": { 600: "AEST" }, "Australia/Adelaide": { 570: "ACST", 630: "ACDT" }, "Australia/Darwin": { 570: "ACST" },
  "Australia/Perth": { 480: "AWST" }, "Pacific/Auckland": { 720: "NZST", 780: "NZDT" },
  "America/St_Johns": { [-210]: "NST", [-150]: "NDT" }, "Etc/GMT": { 0: "GMT" }, GMT: { 0: "GMT" },
};

const shortNames = new Map<string, Intl.DateTimeFormat>();

/** Go's zone abbreviation for `timezone` at `ms`, given the offset there. */
function zoneAbbreviation(timezone: string, ms: number, offsetMinutes: number): string {
  const listed = ZONE_ABBREVIATIONS[timezone]?.[offsetMinutes];
  if (listed) return listed;
  if (/^(Etc\/)?(UTC|UCT|Universal|Zulu)$/.test(timezone)) return "UTC";
  let f = shortNames.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "short" });
    shortNames.set(timezone, f);
  }
  const name = f.formatToParts(ms).find((p) => p.type === "timeZoneName")?.value ?? "";
  if (/^[A-Z]{2,5}$/.test(name) && !/^GMT./.test(name)) return name;
  // tzdata writes zones without an established abbreviation as the offset: +08, -03, +0530.
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const hours = String(Math.floor(abs / 60)).padStart(2, "0");
  return abs % 60 === 0 ? `${sign}${hours}` : `${sign}${hours}${String(abs % 60).padStart(2, "0")}`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `+08:00`, `-03:30`, `+00:00`. */
function offsetText(minutes: number, separator: string): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${pad2(Math.floor(abs / 60))}${separator}${pad2(abs % 60)}`;
}

/** `2026-11-20 14:00:00.5 +0800 CST`: Go's time.Time.String (fraction trimmed, as Go does). */
function goTime(iso: string, timezone: string, ms: number, date: string, clock: string, offset: number): string {
  const fraction = (/T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(iso)?.[1] ?? "").replace(/0+$/, "");
  return `${date} ${clock}${fraction ? `.${fraction}` : ""} ${offsetText(offset, "")} ${zoneAbbreviation(timezone, ms, offset)}`;
}

export function formatTime(iso: string, timezone: string, style: TimeStyle = "datetime"): string {
  const ms = Date.parse(iso);
  if (!iso || Number.isNaN(ms)) return iso;
  if (style === "iso") return new Date(ms).toISOString().replace(".000Z", "Z");
  // Offsets are whole minutes for every zone since the 1970s; seconds of local mean time are dropped.
  const offset = Math.round(offsetMinutes(ms, timezone));
  const local = new Date(ms + offset * 60_000);
  const date = `${String(local.getUTCFullYear()).padStart(4, "0")}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}`;
  const clock = `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}`;
  switch (style) {
    case "date":
      return date;
    case "time":
      return clock;
    case "go":
      return goTime(iso, timezone, ms, date, clock, offset);
    case "zoned":
      return `${date} ${clock} ${offsetText(offset, ":")}`;
    default:
      return `${date} ${clock}`;
  }
}

/** A HandlerContext for running a handler as a plain function (tests, benchmarks). */
export function createContext(data: ContextData): HandlerContext {
  return { ...data, formatTime: (iso, style) => formatTime(iso, data.timezone, style) };
}
