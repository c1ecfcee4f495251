import { describe, expect, it } from "vitest";
import { COMBINED_PREFIX } from "../../../dispatcher/grouping/group-key.ts";
import { event, input, rig, settingsWith, T0 } from "./helpers.ts";

const S = 1_000, M = 60_000, H = 3_600_000;
const at = (ms: number) => new Date(T0 + ms).toISOString();

describe("Grouper timing (Alertmanager semantics on the virtual clock)", () => {
  it("sends a group's first card group_wait after it starts, with every object that arrived meanwhile", async () => {
    const r = await rig();
    await r.grouper.add(input(event({ pod: "web-7d4b9c6f8d-q7r8s" })));
    await r.clock.advanceTo(T0 + 400);
    await r.grouper.add(input(event({ pod: "web-7d4b9c6f8d-m4n5p" })));
    await r.clock.advanceTo(T0 + 999);
    expect(r.sent).toHaveLength(0);
    await r.clock.advanceTo(T0 + S);
    expect(r.sent).toHaveLength(1);
    const [d] = r.sent;
    expect(d!.at).toBe(at(S));
    expect(d!.kind).toBe("first");
    const text = r.texts()[0]!;
    // The handler's card, then the group section naming both pods with counts, the group and event fingerprints.
    expect(text).toContain("**EventReason:** BackOff on web-7d4b9c6f8d-m4n5p");
    expect(text).toContain("BackOff, ×1 each: web-7d4b9c6f8d-m4n5p, web-7d4b9c6f8d-q7r8s");
    expect(text).toContain("×1 each");
    expect(text).toContain(`group ${d!.group}`);
    expect(text).toMatch(/fingerprint [0-9a-f]{12}/);
  });

  it("batches objects joining later into one compact update after group_interval", async () => {
    const r = await rig();
    await r.grouper.add(input(event({ pod: "web-7d4b9c6f8d-q7r8s" })));
    await r.clock.advanceTo(T0 + 2 * M);
    await r.grouper.add(input(event({ pod: "web-7d4b9c6f8d-k2j6h" })));
    await r.clock.advanceTo(T0 + 3 * M);
    await r.grouper.add(input(event({ pod: "web-7d4b9c6f8d-z9w8v" })));
    await r.clock.advanceTo(T0 + S + 5 * M - 1);
    expect(r.sent).toHaveLength(1);
    await r.clock.advanceTo(T0 + S + 5 * M);
    expect(r.sent.map((d) => d.kind)).toEqual(["first", "update"]);
    const update = r.texts()[1]!;
    expect(update).toMatch(/web-7d4b9c6f8d-k2j6h, web-7d4b9c6f8d-z9w8v/);
    expect(update).not.toContain("web-7d4b9c6f8d-q7r8s");
    expect(update).toContain("unchanged: 1 named before, ×1");
    expect(update).not.toContain("EventReason"); // compact: no handler body
  });

  it("re-notifies an ongoing group after repeat_interval with its current count, and stays quiet once it stopped", async () => {
    const r = await rig();
    const e = (count: number, ms: number) => event({ count, at: T0 + ms });
    await r.grouper.add(input(e(1, 0)));
    for (let t = 15 * S, n = 2; t < H + 30 * S; t += 15 * S, n++) {
      await r.clock.advanceTo(T0 + t);
      expect(await r.grouper.observe(e(n, t))).toBe(true);
    }
    await r.clock.advanceTo(T0 + 2 * H);
    expect(r.sent.map((d) => [d.kind, d.at])).toEqual([["first", at(S)], ["repeat", at(S + H)]]);
    expect(r.texts()[1]).toMatch(/still happening · ×241/);
    // The bumps after the repeat stop at 1 h 30 s: the next repeat would be long after, so nothing more.
    await r.clock.runUntilIdle();
    expect(r.sent).toHaveLength(2);
  });

  it("counts a repeat as an occurrence only when the count went up", async () => {
    const r = await rig();
    await r.grouper.add(input(event({ count: 3 })));
    expect(r.grouper.stats.occurrences).toBe(1);
    expect(await r.grouper.observe(event({ count: 3 }))).toBe(true);
    expect(r.grouper.stats.occurrences).toBe(1);
    expect(await r.grouper.observe(event({ count: 5 }))).toBe(true);
    expect(r.grouper.stats.occurrences).toBe(2);
    expect(await r.grouper.observe(event({ uid: "never-alarmed" }))).toBe(false);
  });

  it("puts client-go's combined events into the group and object of the originals", async () => {
    const r = await rig();
    await r.grouper.add(input(event({ uid: "orig", message: "Liveness probe failed: HTTP probe failed with statuscode: 500", reason: "Unhealthy", count: 10 })));
    await r.grouper.add(input(event({ uid: "combined", message: `${COMBINED_PREFIX}Liveness probe failed: HTTP probe failed with statuscode: 503`, reason: "Unhealthy", count: 4 })));
    await r.clock.runUntilIdle();
    expect(r.sent).toHaveLength(1);
    expect(r.grouper.stats.groups).toBe(1);
    const text = r.texts()[0]!;
    expect(text).toContain("web-7d4b9c6f8d-x2x9z ×14");
    expect(text).not.toContain("combined from similar events");
  });

  it("honours a handler's own timers over the global ones", async () => {
    const r = await rig();
    await r.grouper.add(input(event(), { grouping: { waitMs: 30 * S } }));
    await r.clock.advanceTo(T0 + 29 * S);
    expect(r.sent).toHaveLength(0);
    await r.clock.advanceTo(T0 + 30 * S);
    expect(r.sent).toHaveLength(1);
  });

  it("uses Alarm.group as the key when the handler gives one", async () => {
    const r = await rig();
    for (const pod of ["api-5f6d7c8b9d-q7r8s", "db-0", "cache-m4n5p"]) {
      const e = event({ pod, uid: pod });
      await r.grouper.add(input(e, { alarm: { ...input(e).alarm, group: "checkout is down" } }));
    }
    await r.clock.runUntilIdle();
    expect(r.grouper.stats.groups).toBe(1);
    expect(r.texts()[0]).toContain("checkout is down");
  });

  it("ends a group that was quiet for a repeat interval; a recurrence starts a new one", async () => {
    const r = await rig();
    await r.grouper.add(input(event({ uid: "a" })));
    await r.clock.advanceTo(T0 + 2 * H);
    await r.grouper.add(input(event({ uid: "b", at: T0 + 2 * H })));
    await r.clock.runUntilIdle();
    expect(r.sent.map((d) => d.kind)).toEqual(["first", "first"]);
    expect(r.grouper.stats.groups).toBe(2);
  });
});

describe("Grouper storms", () => {
  it("sends one digest when many groups fire at once, naming every object and reason", async () => {
    const r = await rig();
    const apps = ["api", "db", "cache", "mqtt", "ota", "video"];
    for (const app of apps) await r.grouper.add(input(event({ pod: `${app}-6c8d9f7b5d-q2w4r`, uid: app, reason: app === "db" ? "Unhealthy" : "BackOff" })));
    await r.clock.runUntilIdle();
    expect(r.sent).toHaveLength(1);
    expect(r.sent[0]!.kind).toBe("digest");
    const text = r.texts()[0]!;
    for (const app of apps) expect(text).toContain(`${app}-6c8d9f7b5d-q2w4r`);
    expect(text).toMatch(/BackOff\*\* · ×5 · 5 objects · 5 groups/);
    expect(text).toMatch(/Unhealthy\*\* · ×1 · 1 object · 1 group/);
  });

  it("after the burst budget, due groups wait for a token and go out together", async () => {
    const r = await rig({ settings: settingsWith({ storm: { burst: 2, periodMs: M } }) });
    for (let i = 0; i < 5; i++) {
      await r.grouper.add(input(event({ pod: `app${i}-0`, uid: `u${i}` })));
      await r.clock.advanceTo(T0 + (i + 1) * 10 * S);
    }
    await r.clock.runUntilIdle();
    // Two separate cards use the burst; the three groups due meanwhile share one digest once a token is back.
    expect(r.sent.map((d) => d.kind)).toEqual(["first", "first", "digest"]);
    expect(Date.parse(r.sent[2]!.at) - Date.parse(r.sent[1]!.at)).toBeGreaterThanOrEqual(M - 11 * S);
    for (const i of [2, 3, 4]) expect(r.texts()[2]).toContain(`app${i}-0`);
  });

  it("moves a digest's overflow into follow-up cards inside the body budget and the send limits", async () => {
    const r = await rig();
    for (let i = 0; i < 900; i++) await r.grouper.add(input(event({ pod: `worker${i}-6c8d9f7b5d-q2w4r`, uid: `u${i}` })));
    await r.clock.runUntilIdle();
    expect(r.sent.length).toBeGreaterThan(1);
    expect(new Set(r.sent.map((d) => d.id)).size).toBe(r.sent.length);
    for (const d of r.sent) expect(d.bytes).toBeLessThanOrEqual(20_000 - 100);
    expect(r.sent.every((d) => !d.truncated)).toBe(true);
    const all = r.texts().join("\n");
    for (let i = 0; i < 900; i++) expect(all).toContain(`worker${i}-6c8d9f7b5d-q2w4r`);
    expect(all).not.toMatch(/and \d+ more/);
  });
});

describe("Grouper hand-off", () => {
  it("retries a card the outbox refused 5 s later, under the same id", async () => {
    let refusals = 1;
    const r = await rig({ accept: () => { if (refusals-- > 0) throw new Error("spool full"); } });
    await r.grouper.add(input(event()));
    await r.clock.advanceTo(T0 + S);
    expect(r.sent).toHaveLength(0);
    const planned = r.grouper.state.channels.default!.queue.map((c) => c.id);
    await r.clock.advanceTo(T0 + 6 * S);
    expect(r.sent.map((d) => [d.id, d.at])).toEqual([[planned[0], at(6 * S)]]);
  });
});

describe("Grouper bounds", () => {
  it("counts objects beyond the per-group bound and says so on the card", async () => {
    const r = await rig({ settings: { ...settingsWith({}), maxMembersPerGroup: 3 } });
    for (let i = 0; i < 5; i++) await r.grouper.add(input(event({ pod: `web-7d4b9c6f8d-q7r${"bcdfg"[i]}s`, uid: `u${i}` })));
    await r.clock.runUntilIdle();
    expect(r.texts()[0]).toContain("×5 on 3 objects");
    expect(r.texts()[0]).toContain("2 more occurrences on objects beyond the per-group bound of members");
  });

  it("makes room for a new group by ending the longest idle one that has nothing to say", async () => {
    const r = await rig({ settings: { ...settingsWith({}), maxGroups: 2 } });
    await r.grouper.add(input(event({ pod: "a-0", uid: "a" })));
    await r.clock.advanceTo(T0 + M);
    await r.grouper.add(input(event({ pod: "b-0", uid: "b", at: T0 + M })));
    await r.clock.advanceTo(T0 + 2 * M);
    await r.grouper.add(input(event({ pod: "c-0", uid: "c", at: T0 + 2 * M })));
    expect(r.grouper.active).toBe(2);
    expect(r.grouper.knows(event({ pod: "a-0", uid: "a" }))).toBe(false);
  });
});
