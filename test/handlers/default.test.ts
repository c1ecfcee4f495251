import { describe, expect, it } from "vitest";
import handler from "../../handlers/default.ts";
import { matches, normalizeEvent, type FeishuCard, type MatchSpec } from "../../sdk/index.ts";
import { createContext } from "../../dispatcher/time-format.ts";

const ctx = createContext({ cluster: "Test K3S cluster at home", timezone: "Asia/Shanghai", now: "2026-11-20T06:00:05Z", handler: "default" });

const backOff = normalizeEvent({
  metadata: { name: "web-7d4b9c-x2x.1808ba323d34c8e8", namespace: "iot", uid: "4c1c9a7e-0000-4000-8000-000000000001", creationTimestamp: "2026-11-20T05:50:00Z" },
  involvedObject: { kind: "Pod", namespace: "iot", name: "web-7d4b9c-x2x", uid: "pod-uid", fieldPath: "spec.containers{web}" },
  reason: "BackOff",
  message: "Back-off restarting failed container web in pod web-7d4b9c-x2x_iot(pod-uid) <at id=all></at>",
  type: "Warning",
  source: { component: "kubelet", host: "pi-node-2" },
  firstTimestamp: "2026-11-20T05:50:00Z",
  lastTimestamp: "2026-11-20T06:00:00Z",
  count: 12,
});

function allText(card: FeishuCard): string {
  return JSON.stringify(card);
}

describe("handlers/default", () => {
  it("alarms on Warning events only", () => {
    const spec = handler.match as MatchSpec;
    expect(matches(spec, backOff)).toBe(true);
    expect(matches(spec, { ...backOff, type: "Normal" })).toBe(false);
  });

  it("renders today's card and the additions (snapshot)", () => {
    const alarm = handler.handle(backOff, ctx);
    expect(alarm).not.toBeNull();
    expect(alarm).toMatchSnapshot();
  });

  it("shows times in the configured timezone, the object, the node, the count and a stable fingerprint", () => {
    const card = (handler.handle(backOff, ctx) as { card: FeishuCard }).card;
    const text = allText(card);
    expect(card.header).toEqual({ title: { tag: "plain_text", content: "Test K3S cluster at home alarm" }, template: "red" });
    expect(text).toContain("2026&#45;11&#45;20 14&#58;00&#58;00"); // 06:00Z in Asia/Shanghai, escaped in lark_md
    expect(text).toContain("iot&#47;web&#45;7d4b9c&#45;x2x");
    expect(text).toContain("pi&#45;node&#45;2");
    expect(text).toContain("**Count:** 12");
    expect(text).not.toContain("<at id=all>");
    const again = (handler.handle({ ...backOff, count: 13, lastTimestamp: "2026-11-20T06:01:00Z" }, ctx) as { card: FeishuCard }).card;
    const fp = (c: FeishuCard) => /fingerprint ([0-9a-f]{12})/.exec(allText(c))?.[1];
    expect(fp(card)).toBeDefined();
    expect(fp(again)).toBe(fp(card));
    const other = (handler.handle({ ...backOff, reason: "Unhealthy" }, ctx) as { card: FeishuCard }).card;
    expect(fp(other)).not.toBe(fp(card));
  });

  it("uses the node name for Node events", () => {
    const nodeEvent = normalizeEvent({ reason: "Rebooted", type: "Warning", involvedObject: { kind: "Node", name: "pi-node-1" }, message: "Node pi-node-1 has been rebooted" });
    expect(allText((handler.handle(nodeEvent, ctx) as { card: FeishuCard }).card)).toContain("**Node:** pi&#45;node&#45;1");
  });
});
