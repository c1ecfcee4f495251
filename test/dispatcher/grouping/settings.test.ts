import { describe, expect, it } from "vitest";
import { DEFAULT_GROUPING, formatDuration, groupingSettingsFromEnv, parseDuration, parseHandlerGrouping } from "../../../dispatcher/grouping/settings.ts";

describe("grouping settings", () => {
  it("parses Alertmanager durations and prints them back", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(() => parseDuration("5 minutes")).toThrow(/not a duration \(write e\.g\. 500ms/);
    expect(() => parseDuration("")).toThrow(RangeError);
  });

  it("defaults: first card within a second, updates every 5 min, repeats every hour", () => {
    const { settings, problems } = groupingSettingsFromEnv({});
    expect(problems).toEqual([]);
    expect(settings.timing).toEqual({ waitMs: 1_000, intervalMs: 300_000, repeatMs: 3_600_000 });
    expect(settings).toEqual(DEFAULT_GROUPING);
  });

  it("reads EDGE_ALARM_GROUP_* and collects every problem", () => {
    const ok = groupingSettingsFromEnv({ EDGE_ALARM_GROUP_WAIT: "2s", EDGE_ALARM_GROUP_INTERVAL: "10m", EDGE_ALARM_REPEAT_INTERVAL: "4h", EDGE_ALARM_STORM_BURST: "3", EDGE_ALARM_STORM_PERIOD: "2m", EDGE_ALARM_DIGEST_GROUPS: "4" });
    expect(ok.problems).toEqual([]);
    expect(ok.settings.timing).toEqual({ waitMs: 2_000, intervalMs: 600_000, repeatMs: 14_400_000 });
    expect(ok.settings.storm).toEqual({ digestGroups: 4, burst: 3, periodMs: 120_000 });
    const bad = groupingSettingsFromEnv({ EDGE_ALARM_GROUP_WAIT: "soon", EDGE_ALARM_REPEAT_INTERVAL: "10s", EDGE_ALARM_STORM_BURST: "500" });
    expect(bad.problems).toHaveLength(3);
    expect(bad.problems[0]).toMatch(/^EDGE_ALARM_GROUP_WAIT: "soon" is not a duration/);
    expect(bad.problems[1]).toMatch(/^EDGE_ALARM_REPEAT_INTERVAL must be between 1m and 168h/);
    expect(bad.problems[2]).toMatch(/^EDGE_ALARM_STORM_BURST="500" must be a whole number from 1 to 100/);
    expect(bad.settings.timing).toEqual(DEFAULT_GROUPING.timing);
  });

  it("validates a handler's grouping declaration; the valid parts apply", () => {
    expect(parseHandlerGrouping(undefined)).toEqual({ grouping: {}, problems: [] });
    expect(parseHandlerGrouping({ wait: "30s", repeat: "4h" })).toEqual({ grouping: { waitMs: 30_000, repeatMs: 14_400_000 }, problems: [] });
    const r = parseHandlerGrouping({ wait: 30, interval: "0s", every: "1m", repeat: "2h" });
    expect(r.grouping).toEqual({ repeatMs: 7_200_000 });
    expect(r.problems).toEqual([
      "grouping.wait must be a duration string such as \"5m\", got number",
      "grouping.interval must be between 1s and 24h, got 0s",
      "grouping has unknown key \"every\" (allowed: wait, interval, repeat)",
    ]);
    expect(parseHandlerGrouping("5m").problems).toEqual(["grouping must be an object { wait?, interval?, repeat? }"]);
  });
});
