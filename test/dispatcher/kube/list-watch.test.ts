/** The watch loop against the real kube-apiserver of test/env, through a proxy that can cut or freeze the link. */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeconfigClient, type KubeClient } from "../../../dispatcher/kube/client.ts";
import { ListWatch, eventPaths, type WatchNotification } from "../../../dispatcher/kube/list-watch.ts";
import { createLogger } from "../../../dispatcher/log.ts";
import { getTestEnv } from "../../env/use-testenv.ts";
import { connectCluster, createEvent, createNamespace, waitFor, type Cluster } from "../../e2e/harness.ts";

const ns = `lw-${randomBytes(3).toString("hex")}`;
let cluster: Cluster;
let client: KubeClient;
const logLines: string[] = [];
const logger = createLogger({ level: "debug", destination: new Writable({ write(c, _e, cb) { logLines.push(String(c)); cb(); } }) });

function watcher(extra: Partial<ConstructorParameters<typeof ListWatch>[0]> = {}) {
  const seen: WatchNotification[] = [];
  const lw = new ListWatch({
    client, what: "events", paths: eventPaths([ns]), logger, backoffInitialMs: 100, backoffMaxMs: 1000,
    onEvent: async (n) => void seen.push(n),
    ...extra,
  });
  return { lw, seen };
}

const reasons = (seen: WatchNotification[]) => seen.map((n) => `${n.type}:${String(n.object.reason)}${n.fromList ? ":list" : ""}`);

describe("ListWatch against a real kube-apiserver", () => {
  beforeAll(async () => {
    cluster = await connectCluster();
    await createNamespace(cluster.admin, ns);
    client = await kubeconfigClient(cluster.proxiedKubeconfig);
  });
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  it("lists what exists, then watches from the list's resourceVersion", async () => {
    await createEvent(cluster.admin, { namespace: ns, reason: "Before" });
    const { lw, seen } = watcher();
    lw.start();
    await waitFor("the watch", () => lw.established || undefined);
    await createEvent(cluster.admin, { namespace: ns, reason: "After" });
    await waitFor("the new event", () => seen.find((n) => n.object.reason === "After"));
    await lw.stop();
    expect(reasons(seen)).toEqual(["ADDED:Before:list", "ADDED:After"]);
  });

  it("hands each list page on before fetching the next, and misses nothing across pages", async () => {
    const paged = `${ns}-pages`;
    await createNamespace(cluster.admin, paged);
    for (let i = 0; i < 7; i++) await createEvent(cluster.admin, { namespace: paged, reason: `Listed${i}` });
    let listRequests = 0;
    const counting: KubeClient = {
      ...client,
      send: (method, path, opts) => {
        if (!path.includes("watch=")) listRequests++;
        return client.send(method, path, opts);
      },
    };
    const requestsAtItem: number[] = [];
    const seen: WatchNotification[] = [];
    const lw = new ListWatch({
      client: counting, what: "events", paths: eventPaths([paged]), logger, listPageSize: 3,
      onEvent: async (n) => {
        requestsAtItem.push(listRequests);
        seen.push(n);
      },
    });
    lw.start();
    await waitFor("the watch", () => lw.established || undefined);
    await lw.stop();
    expect(reasons(seen).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `ADDED:Listed${i}:list`).sort());
    // Pages of 3, 3 and 1: each handed on while it was the last one fetched.
    expect(requestsAtItem).toEqual([1, 1, 1, 2, 2, 2, 3]);
  });

  it("detects a silently stalled stream (half-open link) and resumes without losing events", async () => {
    const { lw, seen } = watcher({ stallMs: 1500 });
    lw.start();
    await waitFor("the watch", () => lw.established || undefined);
    expect(cluster.proxy.freezeAll()).toBeGreaterThan(0);
    await createEvent(cluster.admin, { namespace: ns, reason: "DuringStall" });
    await waitFor("the event sent while the link was frozen", () => seen.find((n) => n.object.reason === "DuringStall"), 10_000);
    await lw.stop();
    expect(lw.restarts).toBeGreaterThanOrEqual(1);
    expect(logLines.some((l) => l.includes("no data for 1500 ms"))).toBe(true);
    // Resumed from its resourceVersion: nothing listed again, nothing twice.
    expect(reasons(seen).filter((r) => r.includes("DuringStall"))).toEqual(["ADDED:DuringStall"]);
  });

  it("does not take a slow consumer for a stalled stream: the stall clock stops while onEvent works", async () => {
    const seen: WatchNotification[] = [];
    const lw = new ListWatch({
      client, what: "events", paths: eventPaths([ns]), logger, stallMs: 1_600, backoffInitialMs: 100, backoffMaxMs: 1000,
      onEvent: async (n) => {
        // Longer than the stall timeout, as a storm's backlog or a handler near its deadline can take.
        if (!n.fromList && n.object.reason === "Slow") await new Promise((r) => setTimeout(r, 2_600));
        seen.push(n);
      },
    });
    lw.start();
    await waitFor("the watch", () => lw.established || undefined);
    await createEvent(cluster.admin, { namespace: ns, reason: "Slow" });
    await createEvent(cluster.admin, { namespace: ns, reason: "AfterSlow" });
    await waitFor("the event after the slow one", () => seen.find((n) => n.object.reason === "AfterSlow"), 10_000);
    await lw.stop();
    expect(lw.restarts).toBe(0);
    expect(logLines.some((l) => l.includes("no data for 1600 ms"))).toBe(false);
    expect(reasons(seen).filter((r) => !r.endsWith(":list"))).toEqual(["ADDED:Slow", "ADDED:AfterSlow"]);
  });

  it("relists when its resourceVersion is too old (410 Gone)", async () => {
    // Compact etcd's history up to now, as the apiserver does every 5 minutes, so an old resourceVersion is gone.
    await createEvent(cluster.admin, { namespace: ns, reason: "BeforeCompaction" });
    const etcd = getTestEnv().etcdUrl;
    const status = (await (await fetch(`${etcd}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: Buffer.from("/").toString("base64") }) })).json()) as { header: { revision: string } };
    const compacted = await fetch(`${etcd}/v3/kv/compaction`, { method: "POST", body: JSON.stringify({ revision: status.header.revision, physical: true }) });
    expect(compacted.status).toBe(200);
    const { lw, seen } = watcher({ resumeFrom: "2" });
    lw.start();
    // The 410 may come as the status of the watch request or as an ERROR line in its stream.
    await waitFor("a relist", () => (lw.relists > 0 ? true : undefined));
    await waitFor("the watch after the relist", () => lw.established || undefined);
    await lw.stop();
    expect(lw.relists).toBe(1);
    expect(logLines.some((l) => l.includes("410 Gone"))).toBe(true);
    expect(seen.some((n) => n.object.reason === "BeforeCompaction")).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((n) => n.fromList)).toBe(true);
  });

  it("reconnects with backoff after the connection is cut", async () => {
    const { lw, seen } = watcher();
    lw.start();
    await waitFor("the watch", () => lw.established || undefined);
    cluster.proxy.dropAll();
    await createEvent(cluster.admin, { namespace: ns, reason: "AfterCut" });
    await waitFor("the event after the cut", () => seen.find((n) => n.object.reason === "AfterCut"), 10_000);
    await lw.stop();
    expect(lw.restarts).toBeGreaterThanOrEqual(1);
  });
});
