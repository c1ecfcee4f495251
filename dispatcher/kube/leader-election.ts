/**
 * @module Leader election on a coordination.k8s.io/v1 Lease, so that with several replicas only
 * one sends. The algorithm is client-go's (tools/leaderelection), which operators already know
 * from every controller:
 * - a candidate takes the Lease when it has no holder, or when its record has not changed for
 *   `leaseDurationSeconds` *as observed by this candidate's own clock* (no clock sync needed);
 * - every write carries the resourceVersion that was read, so two candidates can never both win:
 *   the second write gets 409 Conflict;
 * - the leader renews every `renewIntervalMs` and steps down by itself when it has not managed
 *   to renew for `renewDeadlineMs`, which is shorter than the lease, so it has stopped before
 *   anyone else may take over;
 * - `stop()` releases the Lease (no holder), so a rolling update fails over at once.
 *
 * Needs RBAC: get, update on the Lease by name, and create on leases in the namespace.
 */
import type { Logger } from "../log.ts";
import { KubeApiError, readJson, type KubeClient } from "./client.ts";

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This replica's identity, unique among candidates: the pod name. */
  identity: string;
  logger: Logger;
  /** How long a Lease that stopped changing still counts as held. @default 15 */
  leaseDurationSeconds?: number;
  /** The leader's renewal period. @default 5000 */
  renewIntervalMs?: number;
  /** The leader steps down when it could not renew for this long; must be under the lease duration. @default 10000 */
  renewDeadlineMs?: number;
  /** A candidate's period between attempts, jittered up to +20 %. @default 2000 */
  retryIntervalMs?: number;
  /** Monotonic milliseconds; tests may replace it. @default performance.now */
  clock?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: LeaseSpec;
}

/** The Lease's MicroTime: RFC 3339 with exactly six fractional digits, as the API server writes it. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

export class LeaderElector {
  readonly #opts: Required<Omit<LeaderElectorOptions, "logger" | "client">> & Pick<LeaderElectorOptions, "logger" | "client">;
  readonly #path: string;
  readonly #listeners = new Set<(leader: boolean) => void>();
  readonly #stop = new AbortController();
  #leader = false;
  #loop: Promise<void> | undefined;
  /** The last record seen, and when (by our clock) it last changed. */
  #observed: { key: string; at: number } | undefined;
  #observedHolder: string | undefined;
  #lastRenew = 0;
  #resourceVersion: string | undefined;
  #spec: LeaseSpec | undefined;

  constructor(opts: LeaderElectorOptions) {
    const resolved = {
      leaseDurationSeconds: 15,
      renewIntervalMs: 5_000,
      renewDeadlineMs: 10_000,
      retryIntervalMs: 2_000,
      clock: () => performance.now(),
      ...opts,
    };
    if (resolved.renewDeadlineMs >= resolved.leaseDurationSeconds * 1000) {
      throw new Error(`renewDeadlineMs (${resolved.renewDeadlineMs}) must be shorter than the lease (${resolved.leaseDurationSeconds} s), or two leaders could overlap`);
    }
    if (resolved.renewIntervalMs >= resolved.renewDeadlineMs) {
      throw new Error(`renewIntervalMs (${resolved.renewIntervalMs}) must be shorter than renewDeadlineMs (${resolved.renewDeadlineMs})`);
    }
    this.#opts = resolved;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
  }

  /** True while this replica holds the Lease. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /** The holder last seen on the Lease (this replica's identity while leading). */
  get holder(): string | undefined {
    return this.#observedHolder;
  }

  /** Call `fn` on every change of leadership; returns an unsubscribe function. */
  onChange(fn: (leader: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  start(): void {
    if (this.#loop) return;
    this.#loop = this.#run();
  }

  /**
   * Stop campaigning. A leader releases the Lease (unless `release: false`, which behaves like a
   * crash and is for tests) and reports the loss of leadership.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    if (this.#leader && opts.release !== false) await this.#release();
    this.#set(false);
  }

  #set(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#opts.logger.info({ lease: `${this.#opts.namespace}/${this.#opts.name}`, identity: this.#opts.identity }, leader ? "became the leader: sending alarms" : "not the leader any more: alarms are held back");
    for (const fn of this.#listeners) {
      try {
        fn(leader);
      } catch (err) {
        this.#opts.logger.error({ err }, "leadership listener failed");
      }
    }
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let won = false;
      try {
        won = await this.#tryAcquireOrRenew();
      } catch (err) {
        this.#opts.logger.warn({ err: (err as Error).message }, `lease ${this.#opts.namespace}/${this.#opts.name}: ${(err as Error).message}`);
      }
      if (signal.aborted) break;
      const now = this.#opts.clock();
      if (won) {
        this.#lastRenew = now;
        this.#set(true);
      } else if (this.#leader && (this.#observedHolder !== this.#opts.identity || now - this.#lastRenew >= this.#opts.renewDeadlineMs)) {
        // Someone else holds it, or we could not renew in time: stop before they may take over.
        this.#set(false);
      }
      const wait = this.#leader
        ? Math.max(0, Math.min(this.#opts.renewIntervalMs, this.#lastRenew + this.#opts.renewDeadlineMs - now))
        : this.#opts.retryIntervalMs * (1 + 0.2 * Math.random());
      // A leader that failed to renew retries at the candidate pace until its deadline.
      await sleep(this.#leader && !won ? Math.min(wait, this.#opts.retryIntervalMs) : wait, signal);
    }
  }

  /** One attempt: true when this replica holds the Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, leaseDurationSeconds } = this.#opts;
    const now = new Date();
    const res = await client.send("GET", `${this.#path}/${encodeURIComponent(this.#opts.name)}`, { signal: this.#stop.signal, timeoutMs: 5_000 });
    if (res.status === 404) {
      await res.body.dump();
      const spec: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      const created = await this.#write("POST", this.#path, {
        apiVersion: "coordination.k8s.io/v1", kind: "Lease",
        metadata: { name: this.#opts.name, namespace: this.#opts.namespace, labels: { "app.kubernetes.io/name": "edge-alarm" } },
        spec,
      });
      return created;
    }
    const lease = await readJson<Lease>(res, "get lease");
    this.#remember(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const held = holder !== "" && holder !== identity;
    const observedAt = this.#observed?.at ?? this.#opts.clock();
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (held && this.#opts.clock() - observedAt < duration) return false;

    const mine = holder === identity;
    const next: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    if (!mine) this.#opts.logger.info({ previous: holder || "(none)" }, `taking lease ${this.#opts.namespace}/${this.#opts.name}${held ? " (expired)" : ""}`);
    // The resourceVersion read above makes this write fail with 409 if anyone wrote in between.
    return this.#write("PUT", `${this.#path}/${encodeURIComponent(this.#opts.name)}`, { ...lease, spec: next });
  }

  /** Create or update; false on 409 Conflict (another candidate wrote first). */
  async #write(method: "POST" | "PUT", path: string, body: Lease): Promise<boolean> {
    const res = await this.#opts.client.send(method, path, { body, timeoutMs: 5_000 });
    if (res.status === 409) {
      await res.body.dump();
      return false;
    }
    const written = await readJson<Lease>(res, method === "POST" ? "create lease" : "update lease");
    this.#remember(written);
    return written.spec?.holderIdentity === this.#opts.identity;
  }

  #remember(lease: Lease): void {
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ""}|${spec.renewTime ?? ""}|${spec.leaseTransitions ?? 0}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: this.#opts.clock() };
    this.#observedHolder = spec.holderIdentity || undefined;
    this.#resourceVersion = lease.metadata.resourceVersion;
    this.#spec = spec;
  }

  /** Give the Lease up: no holder, so the next candidate takes it on its next attempt. */
  async #release(): Promise<void> {
    if (!this.#resourceVersion || !this.#spec) return;
    const now = microTime(new Date());
    try {
      const ok = await this.#write("PUT", `${this.#path}/${encodeURIComponent(this.#opts.name)}`, {
        apiVersion: "coordination.k8s.io/v1", kind: "Lease",
        metadata: { name: this.#opts.name, namespace: this.#opts.namespace, resourceVersion: this.#resourceVersion },
        spec: { ...this.#spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: now },
      });
      if (!ok) this.#opts.logger.warn("could not release the lease (it changed meanwhile); the next leader waits for it to expire");
    } catch (err) {
      const status = err instanceof KubeApiError ? ` (HTTP ${err.status})` : "";
      this.#opts.logger.warn({ err: (err as Error).message }, `could not release the lease${status}; the next leader waits for it to expire`);
    }
  }
}

/**
 * "Only the leader sends", without losing what arrives during a failover: while this replica
 * leads, items pass straight to `forward`; while it follows, it keeps the last `holdMs` of them
 * (at most `maxHeld`), and forwards those when it becomes the leader. Every replica runs the
 * pipeline, so a new leader also knows which events were already handled.
 *
 * The price is at-least-once around a failover: an alarm the old leader sent in its last
 * `holdMs` is sent again. Losing an alarm is worse than a duplicate.
 */
export function leaderGate<T>(
  elector: Pick<LeaderElector, "isLeader" | "onChange">,
  forward: (item: T) => Promise<void>,
  opts: { holdMs: number; maxHeld?: number; clock?: () => number; onError?: (err: unknown) => void },
): (item: T) => Promise<void> {
  const clock = opts.clock ?? (() => performance.now());
  const maxHeld = opts.maxHeld ?? 1_000;
  let held: Array<{ at: number; item: T }> = [];
  const prune = (now: number) => {
    const from = held.findIndex((h) => now - h.at <= opts.holdMs);
    held = from < 0 ? [] : held.slice(from);
    if (held.length > maxHeld) held = held.slice(held.length - maxHeld);
  };
  elector.onChange((leader) => {
    if (!leader) return;
    prune(clock());
    const handOver = held;
    held = [];
    void (async () => {
      for (const h of handOver) await forward(h.item).catch((err: unknown) => opts.onError?.(err));
    })();
  });
  return async (item) => {
    if (elector.isLeader) return forward(item);
    const now = clock();
    held.push({ at: now, item });
    prune(now);
  };
}
