import { describe, expect, it } from "vitest";
import { defaultGroupKey, memberOf, podWorkload, stripCombined, COMBINED_PREFIX } from "../../../dispatcher/grouping/group-key.ts";
import { normalizeEvent } from "../../../sdk/index.ts";
import { outOfCpuCapture, nodeDownCapture } from "./storm-kit.ts";
import { event } from "./helpers.ts";

describe("podWorkload", () => {
  it.each([
    ["client-deployment-85b74f5bb8-2qhjp", "Deployment", "client-deployment"],
    ["nginx100-fc8966b57-vp8mq", "Deployment", "nginx100"], // 9-character pod-template-hash (2017)
    ["coredns-86c58d9df4-mnjkg", "Deployment", "coredns"],
    ["web-0", "StatefulSet", "web"],
    ["kafka-broker-12", "StatefulSet", "kafka-broker"],
    ["node-exporter-95bg2", "DaemonSet/Job", "node-exporter"],
    ["backup-28374650-xk2pd", "CronJob", "backup"],
    ["kube-apiserver-minikube", "Pod", "kube-apiserver-minikube"], // static pod: name-nodename
    ["standalone", "Pod", "standalone"],
  ])("%s → %s %s", (pod, kind, name) => {
    expect(podWorkload(pod)).toEqual({ kind, name });
  });

  it("finds the Deployments behind every pod of the real OutOfcpu storm (5 of them, 10 ReplicaSets)", () => {
    const names = new Set<string>();
    for (const item of outOfCpuCapture()) {
      const e = normalizeEvent(item.object);
      if (e.reason === "OutOfcpu") names.add(podWorkload(e.involvedObject.name).name);
    }
    expect([...names].sort()).toEqual(["client-deployment", "postgres-deployment", "redis", "server-deployment", "worker-deployment"]);
  });
});

describe("defaultGroupKey", () => {
  it("groups by namespace, workload and reason; the message does not count", () => {
    const a = defaultGroupKey(event({ pod: "web-7d4b9c6f8d-q7r8s", message: "one" }));
    const b = defaultGroupKey(event({ pod: "web-7d4b9c6f8d-m4n5p", message: "two" }));
    const other = defaultGroupKey(event({ pod: "web-7d4b9c6f8d-m4n5p", reason: "Unhealthy" }));
    const elsewhere = defaultGroupKey(event({ pod: "web-7d4b9c6f8d-m4n5p", namespace: "prod" }));
    expect(a).toEqual(b);
    expect(a.label).toBe("iot/web · BackOff");
    expect(new Set([a.key, other.key, elsewhere.key]).size).toBe(3);
  });

  it("groups node-level reasons by node, whatever object they are recorded on", () => {
    const nodeEvent = defaultGroupKey(event({ kind: "Node", pod: "edge-2", reason: "Rebooted", host: "edge-2" }));
    const oom = defaultGroupKey(event({ kind: "Node", pod: "edge-2", reason: "SystemOOM", host: "edge-2" }));
    const pressure = defaultGroupKey(event({ kind: "Node", pod: "edge-2", reason: "NodeHasDiskPressure", host: "edge-2", type: "Normal" }));
    const evicted = defaultGroupKey(event({ pod: "web-7d4b9c6f8d-q7r8s", reason: "Evicted", host: "edge-2" }));
    expect(new Set([nodeEvent.key, oom.key, pressure.key, evicted.key]).size).toBe(1);
    expect(nodeEvent.label).toBe("node edge-2");
    // node-controller's per-pod NodeNotReady carries no host: one group per reason, said so.
    const notReady = defaultGroupKey(event({ pod: "web-7d4b9c6f8d-q7r8s", reason: "NodeNotReady", host: "", message: "Node is not ready" }));
    expect(notReady.label).toBe("NodeNotReady (node not named)");
    const eviction = defaultGroupKey(event({ pod: "kube-apiserver-k8s-master1", reason: "NodeControllerEviction", host: "", message: "Marking for deletion Pod kube-apiserver-k8s-master1 from Node k8s-master1" }));
    expect(eviction.label).toBe("node k8s-master1");
  });

  it("keeps a pod whose FailedScheduling message changed (several event objects, real node-down storm) one group and one object", () => {
    const byPod = new Map<string, Array<ReturnType<typeof normalizeEvent>>>();
    for (const item of nodeDownCapture()) {
      const e = normalizeEvent(item.object);
      if (e.reason !== "FailedScheduling") continue;
      byPod.set(e.involvedObject.name, [...(byPod.get(e.involvedObject.name) ?? []), e]);
    }
    const changed = [...byPod.values()].filter((events) => new Set(events.map((e) => e.message)).size > 1);
    expect(changed.length).toBeGreaterThan(10);
    for (const events of changed) {
      expect(new Set(events.map((e) => defaultGroupKey(e).key)).size).toBe(1);
      expect(new Set(events.map((e) => memberOf(e).key)).size).toBe(1);
    }
  });

  it("strips client-go's combined prefix for display only", () => {
    expect(stripCombined(`${COMBINED_PREFIX}Created pod: web-0`)).toBe("Created pod: web-0");
    const combined = event({ message: `${COMBINED_PREFIX}Back-off restarting failed container`, uid: "other" });
    expect(defaultGroupKey(combined)).toEqual(defaultGroupKey(event()));
    expect(memberOf(combined)).toEqual(memberOf(event()));
  });
});
