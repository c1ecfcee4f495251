import { describe, expect, it } from "vitest";
import { readEvents } from "../../../dispatcher/replay/read-events.ts";
import { readCapture } from "../../shared-data.ts";

const ev = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1", kind: "Event", metadata: { name, namespace: "iot", uid: `uid-${name}` },
  involvedObject: { kind: "Pod", name }, reason: "BackOff", type: "Warning", message: "m", ...extra,
});

describe("readEvents", () => {
  it("reads a kubectl get events -o json list", () => {
    const r = readEvents(JSON.stringify({ apiVersion: "v1", kind: "List", items: [ev("a"), ev("b")] }, null, 2), "list.json");
    expect(r.problems).toEqual([]);
    expect(r.items.map((i) => i.type)).toEqual(["ADDED", "ADDED"]);
    expect(r.items[1]!.where).toBe("list.json:1 item 1");
  });

  it("reads a single event", () => {
    expect(readEvents(JSON.stringify(ev("a"), null, 2), "one.json").items).toHaveLength(1);
  });

  it("reads NDJSON of watch notifications, skipping bookmarks, and reports a bad line by number", () => {
    const text = [
      JSON.stringify({ type: "ADDED", object: ev("a") }),
      JSON.stringify({ type: "MODIFIED", object: ev("a", { count: 2 }) }),
      "{not json",
      JSON.stringify({ type: "BOOKMARK", object: { kind: "Event", metadata: { resourceVersion: "9" } } }),
      JSON.stringify({ type: "DELETED", object: ev("a") }),
      JSON.stringify(ev("b")),
    ].join("\n");
    const r = readEvents(text, "watch.ndjson");
    expect(r.items.map((i) => i.type)).toEqual(["ADDED", "MODIFIED", "DELETED", "ADDED"]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^watch\.ndjson:3: not valid JSON/);
  });

  it("reads multi-document YAML and names a broken document's line", () => {
    const text = `apiVersion: v1\nkind: Event\nreason: A\ntype: Warning\n---\nreason: [unclosed\n---\napiVersion: events.k8s.io/v1\nkind: Event\nreason: B\ntype: Normal\nnote: hi\n`;
    const r = readEvents(text, "e.yaml");
    expect(r.items.map((i) => i.object.reason)).toEqual(["A", "B"]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^e\.yaml:[67]: not valid YAML/);
  });

  it("reports items that are not events and keeps the rest", () => {
    const r = readEvents(JSON.stringify({ kind: "EventList", items: [ev("a"), 42, { foo: 1 }, ev("b")] }), "mixed.json");
    expect(r.items).toHaveLength(2);
    expect(r.problems).toEqual([
      "mixed.json:1 item 1: expected an object, got number; skipped",
      "mixed.json:1 item 2: not a Kubernetes Event (no reason/type); skipped",
    ]);
  });

  it("says so for an empty file or one without events", () => {
    expect(readEvents("  \n", "empty.json").problems).toEqual(["empty.json: empty file"]);
    expect(readEvents(JSON.stringify({ kind: "PodList", items: [] }), "pods.json").problems).toEqual(["pods.json: no Kubernetes Events found"]);
  });

  it("reads a real kubectl cluster-info dump (concatenated documents, NodeList and PodList skipped)", () => {
    const r = readEvents(readCapture("clineberry-keycloak-kind/cluster-info-dump.json"), "dump.json");
    // The dump interleaves container logs (text, and JSON log lines) between its documents; each is reported, none stops the read.
    expect(r.problems.length).toBeGreaterThan(0);
    for (const p of r.problems) expect(p).toMatch(/^dump\.json:\d+: (\d+ line\(s\) of non-JSON text skipped|not a Kubernetes Event \(no reason\/type\); skipped)$/);
    expect(r.items).toHaveLength(36);
  });

  it("reads the real internal-type dumps", () => {
    const r = readEvents(readCapture("tonychengtw-k8s-ha/default/events.json"), "ha.json");
    expect(r.problems).toEqual([]);
    expect(r.items).toHaveLength(2680);
  });
});
