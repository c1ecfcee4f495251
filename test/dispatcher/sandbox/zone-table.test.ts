import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../../dispatcher/sandbox/index.ts";
import { zoneTableFor } from "../../../dispatcher/sandbox/zone-table.ts";
import { formatTime } from "../../../dispatcher/time-format.ts";
import type { TimeStyle } from "../../../sdk/index.ts";
import { inlineBundle, warningEvent } from "./bundles.ts";

const NOW = "2026-03-20T12:00:00Z";
const NOW_MS = Date.parse(NOW);
const DAY = 86_400_000;
const ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns", "UTC"];
/** The styles the guest formats itself, then ones it must leave to the host ("go" needs zone abbreviations). */
const STYLES = ["datetime", "zoned", "date", "time", "iso", "go", "no-such-style"] as TimeStyle[];

describe("zoneTableFor", () => {
  it("finds New York's DST changes to the millisecond", () => {
    const table = zoneTableFor("America/New_York", NOW);
    expect(table).not.toBeNull();
    if (!table) return;
    expect(table.from).toBeLessThanOrEqual(NOW_MS - 365 * DAY);
    expect(table.to).toBeGreaterThanOrEqual(NOW_MS + DAY);
    // 2025-03-09 07:00Z (EST→EDT), 2025-11-02 06:00Z (EDT→EST), 2026-03-08 07:00Z.
    expect(table.starts.slice(1)).toEqual([Date.parse("2025-03-09T07:00:00Z"), Date.parse("2025-11-02T06:00:00Z"), Date.parse("2026-03-08T07:00:00Z")]);
    expect(table.offsets).toEqual([-300, -240, -300, -240]);
  });

  it("has one offset for a zone without DST and reuses the table while now moves within it", () => {
    const table = zoneTableFor("Asia/Shanghai", NOW);
    expect(table?.offsets).toEqual([480]);
    expect(zoneTableFor("Asia/Shanghai", "2026-03-25T00:00:00Z")).toBe(table);
    expect(zoneTableFor("Asia/Shanghai", "2027-03-25T00:00:00Z")).not.toBe(table);
  });

  it("gives up (host formatting) for an unknown zone or an unparseable now", () => {
    expect(zoneTableFor("Mars/Olympus_Mons", NOW)).toBeNull();
    expect(zoneTableFor("UTC", "yesterday")).toBeNull();
  });
});

describe("formatTime inside the sandbox", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    // ~1,000 formats per call: more than the default 50 ms deadline allows on a busy machine.
    sb = await Sandbox.create({ deadlineMs: 5000 });
    // The event message carries the inputs: [[iso, style], ...].
    await sb.load("fmt", inlineBundle(`{ handle(e, ctx) { return { card: { out: JSON.parse(e.message).map(([iso, style]) => ctx.formatTime(iso, style)) } }; } }`));
  });
  afterAll(async () => {
    await sb.close();
  });

  async function guestFormat(timezone: string, inputs: [string, TimeStyle][]): Promise<string[]> {
    const event = JSON.stringify({ ...warningEvent(), message: JSON.stringify(inputs) });
    const outcome = await sb.call("fmt", event, { cluster: "c", timezone, now: NOW });
    if (!outcome.ok) throw new Error(`${outcome.kind}: ${outcome.message}`);
    return (outcome.alarms[0]?.card as unknown as { out: string[] }).out;
  }

  it("matches the host's Intl formatting for every zone, style and instant (incl. around DST changes)", async () => {
    const instants = fc.sample(fc.integer({ min: NOW_MS - 400 * DAY, max: NOW_MS + 30 * DAY }), 150);
    for (const timezone of ZONES) {
      const edges = (zoneTableFor(timezone, NOW)?.starts.slice(1) ?? []).flatMap((t) => [t - 1000, t - 1, t, t + 1]);
      const inputs: [string, TimeStyle][] = [];
      for (const ms of [...instants, ...edges]) {
        for (const style of STYLES) inputs.push([new Date(ms).toISOString(), style]);
      }
      // Other RFC 3339 spellings of the same instants, and inputs the guest leaves to the host.
      inputs.push(["2026-03-08T02:30:00-05:00", "zoned"], ["2025-06-07T07:37:01.123456+08:00", "datetime"], ["2019-01-01T00:00:00Z", "zoned"]);
      inputs.push(["not a time", "datetime"], ["", "date"], ["2026-03-20 12:00", "time"]);
      const expected = inputs.map(([iso, style]) => formatTime(iso, timezone, style));
      expect(await guestFormat(timezone, inputs), timezone).toEqual(expected);
    }
  });
});
