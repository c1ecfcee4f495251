import { describe, expect, it } from "vitest";
import { alarmFacts, factsFromCard } from "../../../dispatcher/outbox/alarm-facts.ts";
import { buildDigest } from "../../../dispatcher/outbox/digest.ts";
import { foldItems, MAX_FINGERPRINTS, summarizeKeys, type SpoolItem } from "../../../dispatcher/outbox/spool-entries.ts";
import { fitsFeishuBudget } from "../../../dispatcher/sinks/feishu.ts";
import { weComPayload } from "../../../dispatcher/sinks/wecom.ts";
import { cardText, makeDelivery } from "./helpers.ts";

function item(i: number, spec: Parameters<typeof makeDelivery>[1] = {}): SpoolItem {
  const d = makeDelivery(i, spec);
  return { id: i + 1, type: "item", kind: "alarm", channel: "default", enqueuedAt: i, at: d.at, handler: d.handler, eventUid: d.eventUid, fingerprint: d.fingerprint, body: d.body, facts: alarmFacts(d) };
}
const ctx = { channel: "default", timezone: "Asia/Shanghai", spoolCapBytes: 4 * 1024 * 1024, fits: fitsFeishuBudget };

describe("alarm facts", () => {
  it("reads reason, namespace, object and message back from the default handler's card", () => {
    const d = makeDelivery(3, { reason: "FailedMount", namespace: "kube-system", message: "MountVolume.SetUp failed: <x> & \"y\"" });
    expect(alarmFacts(d)).toEqual({ title: "edge-1 alarm", reason: "FailedMount", namespace: "kube-system", object: "kube-system/reader-3", message: 'MountVolume.SetUp failed: <x> & "y"' });
  });

  it("prefers fields the delivery carries, and falls back to the title for other cards", () => {
    const d = makeDelivery(1);
    expect(alarmFacts({ ...d, reason: "Evicted", namespace: "edge" })).toMatchObject({ reason: "Evicted", namespace: "edge" });
    const custom = { ...d, body: { msg_type: "interactive" as const, card: { header: { title: { tag: "plain_text", content: "Disk almost full" } }, elements: [{ tag: "div", text: { tag: "plain_text", content: "node-a at 97%" } }] } } };
    expect(alarmFacts(custom as typeof d)).toMatchObject({ title: "Disk almost full", reason: "Disk almost full", namespace: "", message: "node-a at 97%" });
    expect(factsFromCard(undefined).fields).toEqual({});
  });
});

describe("folds", () => {
  it("count every alarm by reason and namespace, with bounded fingerprints, merging into an older fold", () => {
    const items = Array.from({ length: 100 }, (_, i) => item(i, { reason: i < 80 ? "BackOff" : "Unhealthy", namespace: i < 80 ? "iot" : "default" }));
    const first = foldItems(500, "default", items.slice(0, 50));
    const merged = foldItems(501, "default", items.slice(50), first);
    expect(first.count).toBe(50);
    expect(merged).toMatchObject({ id: 501, count: 100, byKey: { "BackOff in iot": 80, "Unhealthy in default": 20 } });
    expect(merged.fingerprints).toHaveLength(MAX_FINGERPRINTS);
    expect(merged.moreFingerprints).toBe(100 - MAX_FINGERPRINTS);
    expect(merged.first <= merged.last).toBe(true);
    expect(summarizeKeys(merged.byKey)).toBe("80 BackOff in iot, 20 Unhealthy in default");
  });
});

describe("digest cards", () => {
  it("list every alarm with its fingerprint, repeats of one fingerprint on one line", () => {
    const items = [item(0), item(1), item(2, { fingerprint: "fp0000000000" })];
    const d = buildDigest(items, { ...ctx, outage: { from: Date.UTC(2025, 5, 1, 6, 2), to: Date.UTC(2025, 5, 1, 7, 10) } });
    const text = cardText(d.body);
    expect(cardText((d.body.card as { header: unknown }).header)).toBe("edge-alarm: 3 alarms while offline 14:02–15:10");
    expect(text).toContain("3 alarms: 3 BackOff in iot");
    expect(text).toContain("14:02:00…14:02:02 BackOff · iot/reader-0 ×2");
    expect(text).toContain("[fp fp0000000001]");
    expect(d.fingerprints).toEqual(["fp0000000000", "fp0000000001"]);
    expect(d.alarms).toBe(3);
  });

  it("take as many alarms as fit the body budget, and say how many follow", () => {
    const items = Array.from({ length: 400 }, (_, i) => item(i, { message: `Readiness probe failed: ${"x".repeat(150)}` }));
    const d = buildDigest(items, ctx);
    expect(fitsFeishuBudget(d.body)).toBe(true);
    expect(d.entries.length).toBeGreaterThan(40);
    expect(d.entries.length).toBeLessThan(400);
    expect(cardText(d.body)).toContain(`${400 - d.entries.length} more alarms follow`);
    // One more would not have fitted: allowed one more, it still stops at the same count.
    expect(buildDigest(items, { ...ctx, maxEntries: d.entries.length + 1 }).entries).toHaveLength(d.entries.length);
  });

  it("size to the sink: WeCom's 4096 bytes of Markdown hold fewer", () => {
    const items = Array.from({ length: 100 }, (_, i) => item(i));
    const d = buildDigest(items, { ...ctx, fits: (b) => !weComPayload(b).truncated });
    expect(weComPayload(d.body).truncated).toBe(false);
    expect(d.entries.length).toBeLessThan(40);
  });

  it("put folds first, as a summary with their fingerprints", () => {
    const fold = foldItems(900, "default", Array.from({ length: 312 }, (_, i) => item(i, { reason: i < 280 ? "BackOff" : "FailedMount", namespace: i < 280 ? "iot" : "data" })));
    const d = buildDigest([fold, item(400)], ctx);
    const text = cardText(d.body);
    expect(text).toContain("⚠ 312 alarms folded to keep the spool under 4 MiB");
    expect(text).toContain("280 BackOff in iot, 32 FailedMount in data");
    expect(text).toContain("Fingerprints: fp0000000000 fp0000000001");
    expect(text).toContain(`(+${312 - MAX_FINGERPRINTS} more)`);
    expect(d.alarms).toBe(313);
  });
});
