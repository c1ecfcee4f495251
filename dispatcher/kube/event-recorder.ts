/**
 * Records the dispatcher's own status as Kubernetes Events (on the handlers ConfigMap), so
 * `kubectl get events -n monitoring` shows reloads and rejected handlers. Failing to record is
 * logged, never fatal.
 */
import { hostname } from "node:os";
import type { Logger } from "../log.ts";
import { readJson, type KubeClient } from "./client.ts";

export interface ObjectRef {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export const COMPONENT = "edge-alarm";

export class EventRecorder {
  readonly #client: KubeClient;
  readonly #logger: Logger;
  readonly #instance = hostname();

  constructor(client: KubeClient, logger: Logger) {
    this.#client = client;
    this.#logger = logger;
  }

  async record(ref: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = new Date();
    const stamp = now.toISOString().replace(/\.\d+Z$/, "Z");
    const body = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${ref.name}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000)).toString(16)}`, namespace: ref.namespace },
      involvedObject: ref,
      type,
      reason,
      // The API limits messages to 1 KiB.
      message: message.length > 1024 ? `${message.slice(0, 1000)}… (truncated)` : message,
      source: { component: COMPONENT, host: this.#instance },
      reportingComponent: COMPONENT,
      reportingInstance: this.#instance,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
    };
    try {
      const res = await this.#client.send("POST", `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/events`, { body });
      await readJson(res, "create event");
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message, reason }, `cannot record ${reason} event`);
    }
  }
}
