/**
 * The default group key and the member identity of an occurrence. A group is one problem as a
 * person sees it: the same reason on the pods of one workload, or anything happening to one node.
 * Workloads are derived from pod names because an Event carries no owner reference.
 */
import type { KubeEvent } from "../../sdk/index.ts";

/** client-go's EventCorrelator prefix for aggregated events (events_cache.go). */
export const COMBINED_PREFIX = "(combined from similar events): ";

export function stripCombined(message: string): string {
  return message.startsWith(COMBINED_PREFIX) ? message.slice(COMBINED_PREFIX.length) : message;
}

/**
 * Reasons about a node rather than the object they are recorded on: kubelet node conditions,
 * node-controller and node-problem-detector reasons, and per-pod fallout of a node problem.
 */
export const NODE_LEVEL_REASONS: ReadonlySet<string> = new Set([
  "NodeNotReady", "NodeReady", "NodeNotSchedulable", "NodeSchedulable", "NodeOutOfDisk",
  "Rebooted", "Shutdown", "SystemOOM", "EvictionThresholdMet", "Evicted", "NodeAllocatableEnforced",
  "InvalidDiskCapacity", "FreeDiskSpaceFailed", "ImageGCFailed", "ContainerGCFailed", "KubeletSetupFailed",
  "NetworkNotReady", "DeletingAllPods", "RegisteredNode", "RemovingNode", "NodeControllerEviction",
  "TaintManagerEviction", "OOMKilling", "TaskHung", "KernelOops", "UnregisterNetDevice", "Ext4Error",
  "Ext4Warning", "IOError", "MemoryReadError", "DockerHung", "KernelDeadlock", "FilesystemIsReadOnly",
  "ReadonlyFilesystem", "XfsHasShutdown", "CorruptDockerOverlay2",
]);

export function isNodeLevel(event: KubeEvent): boolean {
  return event.involvedObject.kind === "Node" || NODE_LEVEL_REASONS.has(event.reason) || event.reason.startsWith("NodeHas");
}

/** The node a node-level event is about; "" when the event does not say. */
export function nodeOf(event: KubeEvent): string {
  if (event.involvedObject.kind === "Node") return event.involvedObject.name;
  if (event.source.host) return event.source.host;
  // node-controller's per-pod events carry no host; NodeControllerEviction names it in the text.
  return /\bfrom Node (\S+?)\.?$/.exec(event.message)?.[1] ?? "";
}

// Generated name suffixes use k8s.io/apimachinery's rand alphabet (no vowels, no 0/1/3).
const RAND = "[bcdfghjklmnpqrstvwxz2456789]";
// pod-template-hash is safe-encoded since Kubernetes 1.8; an all-digit middle part is a CronJob's
// job (scheduled time in minutes), not a ReplicaSet.
const REPLICASET_POD = new RegExp(`^(.+)-${RAND}{6,10}-${RAND}{5}$`);
const GENERATED_POD = new RegExp(`^(.+)-${RAND}{5}$`);
const REPLICASET = new RegExp(`^(.+)-${RAND}{6,10}$`);
const STATEFUL_POD = /^(.+)-\d{1,5}$/;
const CRONJOB_JOB = /^(.+)-\d{8,}$/;

export interface Workload {
  kind: "Deployment" | "StatefulSet" | "DaemonSet/Job" | "CronJob" | "Pod" | string;
  name: string;
}

/**
 * The owning workload of a pod, from its generated name: ReplicaSet pods `name-<hash>-<5>` →
 * Deployment `name`; DaemonSet and Job pods `name-<5>` (a CronJob's jobs `name-<minutes>` → the
 * CronJob); StatefulSet pods `name-<ordinal>`. A name that fits none is its own workload.
 */
export function podWorkload(podName: string): Workload {
  const generated = GENERATED_POD.exec(podName);
  const job = generated ? CRONJOB_JOB.exec(generated[1]!) : null;
  if (job) return { kind: "CronJob", name: job[1]! };
  let m = REPLICASET_POD.exec(podName);
  if (m) return { kind: "Deployment", name: m[1]! };
  if (generated) return { kind: "DaemonSet/Job", name: generated[1]! };
  m = STATEFUL_POD.exec(podName);
  if (m) return { kind: "StatefulSet", name: m[1]! };
  return { kind: "Pod", name: podName };
}

/** The workload an event's object belongs to (a ReplicaSet to its Deployment, a Job to its CronJob). */
export function workloadOf(event: KubeEvent): Workload {
  const o = event.involvedObject;
  if (o.kind === "Pod") return podWorkload(o.name);
  if (o.kind === "ReplicaSet") {
    const m = REPLICASET.exec(o.name);
    if (m) return { kind: "Deployment", name: m[1]! };
  }
  if (o.kind === "Job") {
    const m = CRONJOB_JOB.exec(o.name);
    if (m) return { kind: "CronJob", name: m[1]! };
  }
  return { kind: o.kind, name: o.name };
}

export interface GroupKey {
  /** Stable identity within a handler and channel. */
  key: string;
  /** What a person reads on the card. */
  label: string;
}

/**
 * The default group: node-level reasons by node (all of them in one group per node), everything
 * else by namespace + owning workload + reason. The message is never part of it, so client-go's
 * "(combined from similar events)" events land in the group of the events they replace.
 */
export function defaultGroupKey(event: KubeEvent): GroupKey {
  if (isNodeLevel(event)) {
    const node = nodeOf(event);
    return node
      ? { key: `node\u0000${node}`, label: `node ${node}` }
      : { key: `node\u0000\u0000${event.reason}`, label: `${event.reason} (node not named)` };
  }
  const ns = event.involvedObject.namespace || event.metadata.namespace;
  const w = workloadOf(event);
  return {
    key: `workload\u0000${ns}\u0000${w.name}\u0000${event.reason}`,
    label: `${ns ? `${ns}/` : ""}${w.name} · ${event.reason}`,
  };
}

/** One (object, reason) inside a group: what the cards name and count. */
export interface MemberId {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  reason: string;
}

export function memberOf(event: KubeEvent): MemberId {
  const o = event.involvedObject;
  const kind = o.kind || "Object";
  const namespace = o.namespace || (kind === "Node" ? "" : event.metadata.namespace);
  const name = o.name || event.metadata.name;
  return { key: [kind, namespace, name, event.reason].join("\u0000"), kind, namespace, name, reason: event.reason };
}
