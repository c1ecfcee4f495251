import { afterEach, describe, expect, it } from "vitest";
import { assertTimezone, formatTime } from "../../dispatcher/time-format.ts";

/** The reference: Intl, as the formatting was done before the local zone got its own path. */
function intlZoned(ms: number, timezone: string): string {
  const p: Record<string, string> = {};
  const f = new Intl.DateTimeFormat("en-CA", { timeZone: timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "longOffset" });
  for (const part of f.formatToParts(ms)) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${(p.timeZoneName ?? "").replace(/^GMT/, "") || "+00:00"}`;
}

const ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/St_Johns", "Australia/Adelaide", "Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Chatham"];
const savedTz = process.env.TZ;

describe("formatTime", () => {
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it.each(ZONES)("gives the same times for %s whether it is the process's TZ or not (every 97 min over two years)", (zone) => {
    const from = Date.UTC(2024, 0, 1);
    const instants: number[] = [];
    for (let ms = from; ms < from + 2 * 366 * 86_400_000; ms += 97 * 60_000) instants.push(ms);
    process.env.TZ = "UTC";
    const viaIntl = instants.map((ms) => formatTime(new Date(ms).toISOString(), zone, "zoned"));
    process.env.TZ = zone;
    const viaLocal = instants.map((ms) => formatTime(new Date(ms).toISOString(), zone, "zoned"));
    expect(viaLocal).toEqual(viaIntl);
    expect(viaIntl.filter((_, i) => i % 50 === 0)).toEqual(instants.filter((_, i) => i % 50 === 0).map((ms) => intlZoned(ms, zone)));
  });

  it("formats each style", () => {
    const iso = "2026-03-29T01:30:00.250Z";
    expect(formatTime(iso, "Europe/Berlin", "datetime")).toBe("2026-03-29 03:30:00");
    expect(formatTime(iso, "Europe/Berlin", "date")).toBe("2026-03-29");
    expect(formatTime(iso, "Europe/Berlin", "time")).toBe("03:30:00");
    expect(formatTime(iso, "Europe/Berlin", "zoned")).toBe("2026-03-29 03:30:00 +02:00");
    expect(formatTime(iso, "Europe/Berlin", "go")).toBe("2026-03-29 03:30:00.25 +0200 CEST");
    expect(formatTime(iso, "America/St_Johns", "go")).toBe("2026-03-28 23:00:00.25 -0230 NDT");
    expect(formatTime(iso, "UTC", "go")).toBe("2026-03-29 01:30:00.25 +0000 UTC");
    expect(formatTime(iso, "Asia/Kolkata", "iso")).toBe("2026-03-29T01:30:00.250Z");
    expect(formatTime("not a time", "UTC")).toBe("not a time");
  });

  it("takes aliases and UTC names, and names an unknown zone", () => {
    expect(() => assertTimezone("Asia/Calcutta")).not.toThrow();
    expect(() => assertTimezone("Etc/UTC")).not.toThrow();
    expect(() => assertTimezone("Mars/Olympus")).toThrow('unknown timezone "Mars/Olympus"');
    expect(() => formatTime("2026-01-01T00:00:00Z", "Mars/Olympus")).toThrow(RangeError);
    // An unknown TZ must not be taken for UTC by the local-zone path.
    process.env.TZ = "Mars/Olympus";
    expect(() => formatTime("2026-01-01T00:00:00Z", "Mars/Olympus")).toThrow(RangeError);
  });
});
