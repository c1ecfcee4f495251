import { describe, expect, it } from "vitest";
import { memberOf } from "../../../dispatcher/grouping/group-key.ts";
import { DEFAULT_GROUPING } from "../../../dispatcher/grouping/settings.ts";
import { memoryNflogStore } from "../../../dispatcher/grouping/nflog.ts";
import { adoptState, applyRecord, buildStreamIndex, emptyState, groupsOf, type ApplyLimits, type NflogRecord } from "../../../dispatcher/grouping/state.ts";
import { event, input, rig, T0 } from "./helpers.ts";

const limits: ApplyLimits = { maxMembersPerGroup: 50, maxRetired: 100, burst: 5, keepSent: 100 };

function alarm(s: number, group: string, uid: string, count = 1): NflogRecord {
  const e = event({ uid, pod: `web-7d4b9c6f8d-${uid}`, count });
  return {
    t: "alarm", s, at: T0, stream: uid, count, member: memberOf(e), first: e.firstTimestamp, last: e.lastTimestamp,
    message: e.message, card: input(e).alarm.card, fingerprint: "f",
    group: { id: group, channel: "default", handler: group, key: `k-${group}`, label: group, timing: DEFAULT_GROUPING.timing },
  };
}

describe("stream index", () => {
  it("finds a stream in every group that counts it (two handlers alarming on one event), and follows expiry", () => {
    const state = emptyState();
    const index = buildStreamIndex(state);
    const records: NflogRecord[] = [alarm(1, "g1", "a"), alarm(2, "g2", "a"), alarm(3, "g1", "b")];
    for (const r of records) applyRecord(state, index, r, limits);
    expect(groupsOf(index, "a")).toEqual(["g1", "g2"]);
    expect(groupsOf(index, "b")).toEqual(["g1"]);
    expect(groupsOf(index, "nothing")).toEqual([]);
    expect(buildStreamIndex(state)).toEqual(index);

    // A count reaches the stream's member in both groups.
    applyRecord(state, index, { t: "count", s: 4, at: T0, stream: "a", count: 4, last: new Date(T0 + 1).toISOString(), message: "m" }, limits);
    expect([state.groups.g1!.streams.a!.c, state.groups.g2!.streams.a!.c]).toEqual([4, 4]);

    applyRecord(state, index, { t: "expire", s: 5, groups: ["g1"] }, limits);
    expect(groupsOf(index, "a")).toEqual(["g2"]);
    expect(groupsOf(index, "b")).toEqual([]);
    expect(buildStreamIndex(state)).toEqual(index);
    applyRecord(state, index, { t: "expire", s: 6, groups: ["g2"] }, limits);
    expect(index.size).toBe(0);
  });

  it("a new member keeps the fields and their order a reloaded snapshot has", () => {
    const state = emptyState();
    applyRecord(state, buildStreamIndex(state), alarm(1, "g1", "a", 2), limits);
    const live = state.groups.g1!.members;
    expect(JSON.stringify(live)).toBe(JSON.stringify(JSON.parse(JSON.stringify(live))));
    expect(Object.keys(Object.values(live)[0]!)).toEqual(["kind", "namespace", "name", "reason", "count", "notified", "first", "last", "message", "detail"]);
  });
});

describe("state records", () => {
  it("a stream or member named like an Object.prototype property is counted like any other", () => {
    const state = emptyState();
    const index = buildStreamIndex(state);
    for (const [s, uid] of [[1, "constructor"], [2, "__proto__"], [3, "toString"]] as const) applyRecord(state, index, alarm(s, "g1", uid), limits);
    expect(Object.keys(state.groups.g1!.streams)).toEqual(["constructor", "__proto__", "toString"]);
    expect(state.groups.g1!.unnamed).toBe(3);
    expect(groupsOf(index, "constructor")).toEqual(["g1"]);
    applyRecord(state, index, { t: "expire", s: 4, groups: ["g1"] }, limits);
    expect(JSON.stringify(state.retired)).toBe('{"constructor":1,"__proto__":1,"toString":1}');
  });

  it("a state read back from the log has the same text and dictionary records, as a live one", async () => {
    const store = memoryNflogStore();
    const a = await rig({ store });
    for (let i = 0; i < 3; i++) await a.grouper.add(input(event({ pod: `app${i}-0`, uid: `u${i}` })));
    await a.grouper.close();
    const b = await rig({ store: memoryNflogStore(store.files) });
    expect(JSON.stringify(b.grouper.state)).toBe(JSON.stringify(a.grouper.state));
    const g = Object.values(b.grouper.state.groups)[0]!;
    expect([b.grouper.state.groups, b.grouper.state.retired, g.members, g.streams].map((r) => Object.getPrototypeOf(r))).toEqual([null, null, null, null]);
    expect(JSON.stringify(adoptState(JSON.parse(JSON.stringify(a.grouper.state))))).toBe(JSON.stringify(a.grouper.state));
  });
});
