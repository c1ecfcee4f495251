/**
 * The ServiceAccount's permissions, as the real API server's RBAC authorizer decides them:
 * `kubectl auth can-i` for every verb the dispatcher needs and a list of what it must not do,
 * the complete rule list, and real requests with a TokenRequest token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeconfigClient, readJson, type KubeClient } from "../../dispatcher/kube/client.ts";
import { LeaderElector } from "../../dispatcher/kube/leader-election.ts";
import { createLogger } from "../../dispatcher/log.ts";
import { applyBase, canI, kubectl, NAMESPACE, SA_USER, serviceAccountKubeconfig } from "./cluster.ts";

let sa: KubeClient;

beforeAll(async () => {
  await applyBase();
  sa = await kubeconfigClient((await serviceAccountKubeconfig()).path);
});

afterAll(async () => {
  await sa?.close();
});

const ALLOWED: Array<[verb: string, resource: string, namespace?: string]> = [
  ["list", "events", "kube-system"],
  ["watch", "events", "default"],
  ["get", "events", "default"],
  ["list", "events", "*"],
  ["watch", "events", "*"],
  ["create", "events", NAMESPACE],
  ["get", "configmaps/edge-alarm-handlers", NAMESPACE],
  ["list", "configmaps/edge-alarm-handlers", NAMESPACE],
  ["watch", "configmaps/edge-alarm-handlers", NAMESPACE],
  ["create", "leases.coordination.k8s.io", NAMESPACE],
  ["get", "leases.coordination.k8s.io/edge-alarm", NAMESPACE],
  ["update", "leases.coordination.k8s.io/edge-alarm", NAMESPACE],
];

const DENIED: Array<[verb: string, resource: string, namespace?: string]> = [
  ["list", "secrets", NAMESPACE],
  ["get", "secrets/edge-alarm-feishu", NAMESPACE],
  ["list", "secrets", "*"],
  ["delete", "pods", "default"],
  ["list", "pods", "default"],
  ["create", "pods", NAMESPACE],
  ["get", "nodes"],
  ["list", "namespaces"],
  ["create", "events", "default"],
  ["delete", "events", NAMESPACE],
  ["patch", "events", NAMESPACE],
  ["list", "configmaps", NAMESPACE], // without a name: would read every ConfigMap
  ["get", "configmaps/other", NAMESPACE],
  ["get", "configmaps/edge-alarm-handlers", "default"],
  ["list", "configmaps", "kube-system"],
  ["update", "configmaps/edge-alarm-handlers", NAMESPACE],
  ["delete", "configmaps/edge-alarm-handlers", NAMESPACE],
  ["get", "leases.coordination.k8s.io/other", NAMESPACE],
  ["delete", "leases.coordination.k8s.io/edge-alarm", NAMESPACE],
  ["update", "leases.coordination.k8s.io/edge-alarm", "kube-system"],
  ["create", "leases.coordination.k8s.io", "kube-system"],
  ["impersonate", "users"],
  ["create", "serviceaccounts/edge-alarm/token", NAMESPACE],
  ["update", "deployments.apps/edge-alarm", NAMESPACE],
];

/** Asks can-i for each entry, one kubectl at a time (the test machines have two cores). */
async function answers(list: typeof ALLOWED): Promise<Array<[what: string, yes: boolean]>> {
  const out: Array<[string, boolean]> = [];
  for (const [verb, resource, ns] of list) out.push([`${verb} ${resource} ${ns ?? ""}`.trim(), await canI(verb, resource, ns)]);
  return out;
}

describe("kubectl auth can-i as the ServiceAccount", () => {
  it("allows every request the dispatcher makes", async () => {
    expect((await answers(ALLOWED)).filter(([, yes]) => !yes).map(([what]) => what)).toEqual([]);
  });

  it("denies the rest", async () => {
    expect((await answers(DENIED)).filter(([, yes]) => yes).map(([what]) => what)).toEqual([]);
  });

  it("has exactly the expected resource rules (SelfSubjectRulesReview)", async () => {
    const rules = async (ns: string) =>
      (await kubectl(["auth", "can-i", "--list", "-n", ns, "--as", SA_USER])).stdout
        .split("\n")
        .slice(1)
        .map((line) => line.trim().split(/\s{2,}/))
        // Resource rules only: the rest are non-resource URLs (/healthz, /version …) every
        // authenticated user gets, and the self-review APIs of system:basic-user.
        .filter((cols) => cols.length === 4 && !/^selfsubject/.test(cols[0] ?? ""))
        .map((cols) => `${cols[0]} ${cols[2]} ${cols[3]}`)
        .sort();
    expect(await rules(NAMESPACE)).toEqual([
      "configmaps [edge-alarm-handlers] [get list watch]",
      "events [] [get list watch create]",
      "leases.coordination.k8s.io [] [create]",
      "leases.coordination.k8s.io [edge-alarm] [get update]",
    ]);
    expect(await rules("default")).toEqual(["events [] [get list watch]"]);
  });
});

describe("real requests with the ServiceAccount's token", () => {
  const configmaps = `/api/v1/namespaces/${NAMESPACE}/configmaps`;

  it("lists and watches its ConfigMap by name, and nothing without the name", async () => {
    const byName = await sa.send("GET", `${configmaps}?fieldSelector=${encodeURIComponent("metadata.name=edge-alarm-handlers")}`);
    expect(byName.status).toBe(200);
    await byName.body.dump();
    const watch = await sa.send("GET", `${configmaps}?watch=1&timeoutSeconds=1&fieldSelector=${encodeURIComponent("metadata.name=edge-alarm-handlers")}`);
    expect(watch.status).toBe(200);
    await watch.body.dump();
    const all = await sa.send("GET", configmaps);
    expect(all.status).toBe(403);
    await all.body.dump();
    const secrets = await sa.send("GET", `/api/v1/namespaces/${NAMESPACE}/secrets`);
    expect(secrets.status).toBe(403);
    await secrets.body.dump();
  });

  it("lists Events cluster-wide and records its own Events in its namespace only", async () => {
    const list = await sa.send("GET", "/api/v1/events?limit=1");
    expect(list.status).toBe(200);
    await list.body.dump();
    const event = (ns: string) => ({
      apiVersion: "v1", kind: "Event",
      metadata: { generateName: "edge-alarm-rbac-", namespace: ns },
      involvedObject: { kind: "ConfigMap", apiVersion: "v1", namespace: ns, name: "edge-alarm-handlers" },
      reason: "HandlersReloaded", message: "rbac test", type: "Normal",
      source: { component: "edge-alarm" },
    });
    await readJson(await sa.send("POST", `/api/v1/namespaces/${NAMESPACE}/events`, { body: event(NAMESPACE) }), "create event");
    const elsewhere = await sa.send("POST", "/api/v1/namespaces/default/events", { body: event("default") });
    expect(elsewhere.status).toBe(403);
    await elsewhere.body.dump();
  });

  it("runs leader election on its Lease", async () => {
    const logger = createLogger({ level: "silent" });
    const elector = new LeaderElector({ client: sa, namespace: NAMESPACE, name: "edge-alarm", identity: `rbac-test-${process.pid}`, logger, leaseDurationSeconds: 2, renewIntervalMs: 300, renewDeadlineMs: 1_000, retryIntervalMs: 200 });
    elector.start();
    try {
      const deadline = Date.now() + 10_000;
      while (!elector.isLeader && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(elector.isLeader).toBe(true);
      await new Promise((r) => setTimeout(r, 700)); // at least one renewal (update) as the SA
      expect(elector.isLeader).toBe(true);
    } finally {
      await elector.stop();
    }
    const lease = await readJson<{ spec: { holderIdentity?: string } }>(await sa.send("GET", `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/edge-alarm`), "get lease");
    expect(lease.spec.holderIdentity).toBeUndefined(); // released with update, as the SA
    const other = await sa.send("GET", `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/someone-else`);
    expect(other.status).toBe(403);
    await other.body.dump();
  });
});
