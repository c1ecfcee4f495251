/**
 * Leader election against the real kube-apiserver from test/env, with short leases so failover
 * takes seconds.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { kubeconfigClient, readJson, type KubeClient } from "../../dispatcher/kube/client.ts";
import { LeaderElector, leaderGate, microTime } from "../../dispatcher/kube/leader-election.ts";
import { createLogger } from "../../dispatcher/log.ts";
import { getTestEnv } from "../env/use-testenv.ts";

const logger = createLogger({ level: "silent" });
const FAST = { leaseDurationSeconds: 2, renewIntervalMs: 400, renewDeadlineMs: 1_500, retryIntervalMs: 250 };

let admin: KubeClient;
const ns = `lease-${randomBytes(3).toString("hex")}`;
const running: LeaderElector[] = [];

function elector(name: string, identity: string, client: KubeClient = admin): LeaderElector {
  const e = new LeaderElector({ client, namespace: ns, name, identity, logger, ...FAST });
  running.push(e);
  return e;
}

async function until(what: string, pred: () => boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!pred()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - start;
}

async function getLease(name: string) {
  return readJson<{ metadata: { resourceVersion: string }; spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; renewTime?: string } }>(
    await admin.send("GET", `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`),
    "get lease",
  );
}

/** Samples both electors until `ms` elapse and returns how often both claimed to lead. */
async function overlaps(a: LeaderElector, b: LeaderElector, ms: number): Promise<number> {
  let both = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (a.isLeader && b.isLeader) both++;
    await new Promise((r) => setTimeout(r, 10));
  }
  return both;
}

beforeAll(async () => {
  admin = await kubeconfigClient(getTestEnv().kubeconfigPath);
  await readJson(await admin.send("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } }), "create namespace");
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

afterAll(async () => {
  await admin?.close();
});

describe("LeaderElector on a real Lease", () => {
  it("creates the Lease, leads, renews it, and releases it on stop", async () => {
    const e = elector("solo", "pod-a");
    const changes: boolean[] = [];
    e.onChange((l) => changes.push(l));
    e.start();
    await until("leadership", () => e.isLeader, 5_000);
    const first = await getLease("solo");
    expect(first.spec.holderIdentity).toBe("pod-a");
    expect(first.spec.leaseDurationSeconds).toBe(2);
    await new Promise((r) => setTimeout(r, FAST.renewIntervalMs * 2 + 200));
    const renewed = await getLease("solo");
    expect(renewed.spec.renewTime).not.toBe(first.spec.renewTime);
    expect(renewed.spec.holderIdentity).toBe("pod-a");

    await e.stop();
    expect(e.isLeader).toBe(false);
    expect(changes).toEqual([true, false]);
    expect((await getLease("solo")).spec.holderIdentity).toBeUndefined();
  });

  it("lets exactly one of two candidates lead, and hands over at once on a graceful stop", async () => {
    const a = elector("pair", "pod-a");
    const b = elector("pair", "pod-b");
    a.start();
    b.start();
    await until("a leader", () => a.isLeader || b.isLeader, 5_000);
    expect(await overlaps(a, b, 1_500)).toBe(0);
    const [leader, follower] = a.isLeader ? [a, b] : [b, a];
    expect(follower.isLeader).toBe(false);
    expect(follower.holder).toBe(leader === a ? "pod-a" : "pod-b");

    await leader.stop();
    // Released: the follower takes it on its next attempt, not after the lease duration.
    const took = await until("takeover", () => follower.isLeader, 5_000);
    expect(took).toBeLessThan(FAST.retryIntervalMs * 1.2 + 1_000);
    const lease = await getLease("pair");
    expect(lease.spec.holderIdentity).toBe(follower === a ? "pod-a" : "pod-b");
    expect(lease.spec.leaseTransitions).toBe(1);
  });

  it("fails over within the lease duration when the leader dies without releasing", async () => {
    const a = elector("crash", "pod-a");
    a.start();
    await until("a leads", () => a.isLeader, 5_000);
    const b = elector("crash", "pod-b");
    b.start();
    await new Promise((r) => setTimeout(r, 600));
    expect(b.isLeader).toBe(false);

    await a.stop({ release: false }); // as a crash: no more renewals, the Lease still names pod-a
    expect((await getLease("crash")).spec.holderIdentity).toBe("pod-a");
    const took = await until("takeover", () => b.isLeader, 10_000);
    const leaseMs = FAST.leaseDurationSeconds * 1000;
    // Not before the lease could have expired (b saw the last renewal at most one renew interval before the crash)…
    expect(took).toBeGreaterThan(leaseMs - FAST.renewIntervalMs - 100);
    // …and within the lease duration plus one jittered attempt.
    expect(took).toBeLessThan(leaseMs + FAST.retryIntervalMs * 1.2 + 500);
    expect((await getLease("crash")).spec.holderIdentity).toBe("pod-b");
  });

  it("steps down when another identity takes the Lease", async () => {
    const a = elector("stolen", "pod-a");
    a.start();
    await until("a leads", () => a.isLeader, 5_000);
    const lease = await getLease("stolen");
    // An intruder (or an operator) writes itself into the Lease, resourceVersion-guarded like any candidate.
    await readJson(
      await admin.send("PUT", `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/stolen`, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "intruder", renewTime: microTime(new Date()) } },
      }),
      "steal lease",
    );
    const gaveUp = await until("a steps down", () => !a.isLeader, 5_000);
    expect(gaveUp).toBeLessThan(FAST.renewIntervalMs + 500);
    expect(a.holder).toBe("intruder");
  });

  it("refuses timings that would let two leaders overlap", () => {
    expect(() => new LeaderElector({ client: admin, namespace: ns, name: "x", identity: "i", logger, leaseDurationSeconds: 2, renewDeadlineMs: 2_000 })).toThrow(/shorter than the lease/);
  });
});

describe("leaderGate", () => {
  function fakeElector() {
    const listeners = new Set<(l: boolean) => void>();
    return {
      isLeader: false,
      onChange(fn: (l: boolean) => void) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      set(l: boolean) {
        this.isLeader = l;
        for (const fn of listeners) fn(l);
      },
    };
  }

  it("forwards only while leading, and hands over what arrived in the last holdMs on becoming leader", async () => {
    const e = fakeElector();
    let now = 0;
    const sent: string[] = [];
    const gate = leaderGate<string>(e, async (s) => void sent.push(s), { holdMs: 1_000, clock: () => now });
    await gate("old");
    now = 1_500;
    await gate("recent-1");
    now = 1_900;
    await gate("recent-2");
    expect(sent).toEqual([]);
    now = 2_000;
    e.set(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual(["recent-1", "recent-2"]);
    await gate("live");
    expect(sent).toEqual(["recent-1", "recent-2", "live"]);
    e.set(false);
    await gate("held");
    expect(sent).toHaveLength(3);
  });

  it("keeps at most maxHeld items", async () => {
    const e = fakeElector();
    const sent: number[] = [];
    const gate = leaderGate<number>(e, async (n) => void sent.push(n), { holdMs: 60_000, maxHeld: 3, clock: () => 0 });
    for (let i = 0; i < 10; i++) await gate(i);
    e.set(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual([7, 8, 9]);
  });
});
