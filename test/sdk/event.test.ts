import { readdirSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { normalizeEvent, looksLikeEvent } from "../../sdk/index.ts";
import { capture, readCapture } from "../shared-data.ts";

describe("normalizeEvent", () => {
  it("maps events.k8s.io/v1 to the core/v1 shape (real kubevious capture, both API views of the same events)", () => {
    const dir = (api: string) => capture(`kubevious-mock-data/kind-cluster/${api}/kube-system`);
    const files = readdirSync(dir("core-v1")).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const core = normalizeEvent(parse(readCapture(`kubevious-mock-data/kind-cluster/core-v1/kube-system/${f}`)));
      const events = normalizeEvent(parse(readCapture(`kubevious-mock-data/kind-cluster/events.k8s.io-v1/kube-system/${f}`)));
      expect(events.involvedObject).toEqual(core.involvedObject);
      expect(events.message).toBe(core.message);
      expect(events.count).toBe(core.count);
      expect(events.lastTimestamp).toBe(core.lastTimestamp);
      expect(events.firstTimestamp).toBe(core.firstTimestamp);
      expect(events.source.component).toBe(core.source.component);
      expect(events.metadata.uid).toBe(core.metadata.uid);
    }
  });

  it("reads series, eventTime and reportingController of native events.k8s.io events", () => {
    const e = normalizeEvent({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "x.1", namespace: "iot", uid: "u1", creationTimestamp: "2026-11-20T05:59:00Z" },
      eventTime: "2026-11-20T06:00:00.123456Z",
      series: { count: 7, lastObservedTime: "2026-11-20T06:10:00.000001Z" },
      reportingController: "kube-proxy",
      regarding: { kind: "Node", name: "pi-1" },
      note: "hello",
      reason: "Started",
      type: "Normal",
    });
    expect(e.count).toBe(7);
    expect(e.lastTimestamp).toBe("2026-11-20T06:10:00.000001Z");
    expect(e.firstTimestamp).toBe("2026-11-20T06:00:00.123456Z");
    expect(e.source.component).toBe("kube-proxy");
    expect(e.reportingComponent).toBe("kube-proxy");
    expect(e.involvedObject).toMatchObject({ kind: "Node", name: "pi-1", namespace: "" });
    expect(e.message).toBe("hello");
  });

  it("uses deprecatedCount when there is no series", () => {
    expect(normalizeEvent({ reason: "X", type: "Warning", deprecatedCount: 4 }).count).toBe(4);
  });

  it("reads the capitalised internal shape of old kubectl dumps (real erwee402 capture)", () => {
    const dump = JSON.parse(readCapture("erwee402-multi-k8s/default/events.json")) as { Items: unknown[] };
    const events = dump.Items.map((i) => normalizeEvent(i));
    const outOfCpu = events.filter((e) => e.reason === "OutOfcpu");
    expect(outOfCpu).toHaveLength(100);
    const first = outOfCpu[0]!;
    expect(first.type).toBe("Warning");
    expect(first.involvedObject.kind).toBe("Pod");
    expect(first.involvedObject.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.metadata.namespace).toBe("default");
    expect(first.message).toMatch(/^Node didn't have enough resource: cpu/);
    expect(first.lastTimestamp).toMatch(/^2019-03-08T08:\d\d:\d\dZ$/);
  });

  it("fills the gaps of a reduced event consistently (real insights-operator capture)", () => {
    const list = JSON.parse(readCapture("insights-operator/openshift-machine-api.json")) as { items: unknown[] };
    const e = normalizeEvent(list.items[0], "2026-11-27T00:00:00Z");
    expect(e.involvedObject).toEqual({ kind: "", namespace: "", name: "", uid: "", apiVersion: "", fieldPath: "" });
    expect(e.metadata.namespace).toBe("openshift-machine-api");
    expect(e.count).toBe(1);
    expect(e.lastTimestamp).toBe("2022-08-24T11:40:44+02:00");
    expect(e.firstTimestamp).toBe(e.lastTimestamp);
    expect(e.source).toEqual({ component: "", host: "" });
  });

  it("falls back to the receive time when an event carries no time at all", () => {
    const e = normalizeEvent({ reason: "Boom", type: "Warning" }, "2026-11-27T01:02:03Z");
    expect(e.lastTimestamp).toBe("2026-11-27T01:02:03Z");
    expect(e.firstTimestamp).toBe("2026-11-27T01:02:03Z");
    expect(e.metadata.creationTimestamp).toBe("2026-11-27T01:02:03Z");
  });

  it("turns Date values (client-node list results) into the API's string form", () => {
    const e = normalizeEvent({
      reason: "BackOff", type: "Warning", count: 3,
      firstTimestamp: new Date("2026-11-20T06:00:00Z"),
      lastTimestamp: new Date("2026-11-20T06:05:44Z"),
      metadata: { creationTimestamp: new Date("2026-11-20T06:00:00Z"), managedFields: [{ manager: "kubelet" }] },
    });
    expect(e.lastTimestamp).toBe("2026-11-20T06:05:44Z");
    expect(e.firstTimestamp).toBe("2026-11-20T06:00:00Z");
    expect(JSON.stringify(e)).not.toContain("managedFields");
  });

  it("survives garbage without throwing", () => {
    for (const bad of [null, 42, "x", [], { involvedObject: "nope", count: "many", series: 5 }]) {
      const e = normalizeEvent(bad, "2026-01-01T00:00:00Z");
      expect(e.kind).toBe("Event");
      expect(e.count).toBe(1);
    }
  });

  it("recognises events and rejects other objects", () => {
    expect(looksLikeEvent({ kind: "Event" })).toBe(true);
    expect(looksLikeEvent({ Reason: "X", Type: "Normal" })).toBe(true);
    expect(looksLikeEvent({ kind: "Pod", metadata: {} })).toBe(false);
    expect(looksLikeEvent(path)).toBe(false);
  });
});
