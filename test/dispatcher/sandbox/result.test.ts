import { describe, expect, it } from "vitest";
import { parseEnvelope, toAlarms } from "../../../dispatcher/sandbox/result.ts";

describe("toAlarms", () => {
  it("treats null and undefined as no alarm", () => {
    expect(toAlarms(null)).toEqual([]);
    expect(toAlarms(undefined)).toEqual([]);
  });

  it("accepts one alarm or an array, keeping only card, group and channel", () => {
    const card = { header: { title: { tag: "plain_text", content: "x" } } };
    expect(toAlarms({ card, group: "g", extra: 1 })).toEqual([{ card, group: "g" }]);
    expect(toAlarms([{ card }, { card, channel: "ops" }])).toEqual([{ card }, { card, channel: "ops" }]);
    expect(toAlarms([])).toEqual([]);
  });

  it("treats null group/channel as absent", () => {
    expect(toAlarms({ card: {}, group: null, channel: null })).toEqual([{ card: {} }]);
  });

  it.each([
    [42, /returned a number/],
    ["card", /returned a string/],
    [{}, /the alarm has no card/],
    [{ card: "text" }, /card is a string, not an object/],
    [{ card: [] }, /card is an array, not an object/],
    [{ card: null }, /card is null, not an object/],
    [[{ card: {} }, 7], /alarm \[1\] is a number/],
    [{ card: {}, group: 5 }, /group is a number, not a string/],
    [{ card: {}, channel: {} }, /channel is an object, not a string/],
  ])("refuses %j", (value, message) => {
    expect(() => toAlarms(value)).toThrow(message);
  });
});

describe("parseEnvelope", () => {
  it("returns alarms and decoded console lines", () => {
    const env = JSON.stringify({ r: { card: { a: 1 } }, l: ["warn", "careful", "log", "hi"], d: 2 });
    const parsed = parseEnvelope(env, 1 << 20);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.alarms).toEqual([{ card: { a: 1 } }]);
    expect(parsed.logs.slice(0, 2)).toEqual([
      { level: "warn", message: "careful" },
      { level: "log", message: "hi" },
    ]);
    expect(parsed.logs[2]?.message).toMatch(/2 more console line/);
  });

  it("passes on the guest's reason for an invalid result", () => {
    const parsed = parseEnvelope(JSON.stringify({ x: "handle() returned a function, not an Alarm" }), 1 << 20);
    expect(parsed).toEqual({ ok: false, message: "handle() returned a function, not an Alarm", logs: [] });
  });

  it("measures the cap in UTF-8 bytes, not characters", () => {
    const text = "警".repeat(400); // 400 chars, 1,200 bytes
    const env = JSON.stringify({ r: { card: { text } } });
    expect(parseEnvelope(env, 2000).ok).toBe(true);
    const over = parseEnvelope(env, 1000);
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.message).toMatch(/bytes of JSON, over the limit of 1000/);
  });

  it("reports unreadable JSON instead of throwing", () => {
    const parsed = parseEnvelope("{nope", 100);
    expect(parsed.ok).toBe(false);
  });
});
