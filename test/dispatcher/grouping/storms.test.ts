/**
 * The storms of the issue, replayed through the default handler with the default grouping: the
 * real node-down (tonychengtw-k8s-ha) and OutOfcpu (erwee402-multi-k8s) captures with their update
 * streams reconstructed from the counts, and synthetic storms from the real message formats.
 */
import { describe, expect, it } from "vitest";
import type { InputItem } from "../../../dispatcher/replay/read-events.ts";
import { baseline, coverage, crashLoopStorm, nodeDownCapture, nodeNotReadyStorm, outOfCpuCapture, rates, reconstructUpdates, registryStorm, runStorm } from "./storm-kit.ts";

async function check(items: InputItem[]) {
  const run = await runStorm(items);
  const base = baseline(items);
  const cov = coverage(items, run.deliveries);
  expect(cov.missing).toEqual([]);
  const r = rates(run.deliveries);
  expect(r.ok).toBe(true);
  expect(r.maxPerSecond).toBeLessThanOrEqual(5);
  expect(r.maxPerMinute).toBeLessThanOrEqual(100);
  expect(run.deliveries.every((d) => d.bytes <= 20_000 && !d.truncated)).toBe(true);
  expect(run.summary.requests).toBe(run.deliveries.length);
  expect(run.summary.suppressed).toBeGreaterThan(0);
  return { run, base, ratio: base.bytes / run.summary.bytes };
}

describe("storms (real captures)", () => {
  it("node-down storm (tonychengtw-k8s-ha): ≥ 20× fewer bytes than a card per Warning update, every object and reason named", async () => {
    const { run, base, ratio } = await check(reconstructUpdates(nodeDownCapture()));
    expect(base.posts).toBeGreaterThan(10_000);
    expect(ratio).toBeGreaterThanOrEqual(20);
    expect(run.summary.groups).toBeGreaterThan(300); // one per Deployment: the cluster ran hundreds of one-pod nginx Deployments
    expect(run.deliveries.filter((d) => d.kind === "digest").length).toBeGreaterThan(0);
  });

  it("OutOfcpu storm (erwee402-multi-k8s): ≥ 20× fewer bytes, the 100 rejected pods named under 5 Deployments", async () => {
    const items = reconstructUpdates(outOfCpuCapture());
    const { run, ratio } = await check(items);
    expect(ratio).toBeGreaterThanOrEqual(20);
    const text = run.deliveries.map((d) => JSON.stringify(d.body)).join("\n");
    for (const deployment of ["client-deployment", "postgres-deployment", "redis", "server-deployment", "worker-deployment"]) {
      expect(text).toContain(`default/${deployment}`);
    }
  });

  it("as captured (one object per event, no reconstructed updates) every object is still named", async () => {
    await check(outOfCpuCapture());
  });
});

describe("storms (synthetic, real message formats)", () => {
  it.each([
    ["ErrImagePull over a dead registry", registryStorm],
    ["crash loop bumping every 15 s for an hour", crashLoopStorm],
    ["node NotReady with every pod on it", nodeNotReadyStorm],
  ])("%s: ≥ 20× fewer bytes, all named, within the send limits", async (_name, storm) => {
    const { ratio } = await check(storm().items);
    expect(ratio).toBeGreaterThanOrEqual(20);
  });

  it("a crash loop is one first card and one repeat with the hour's count", async () => {
    const { run } = await check(crashLoopStorm().items);
    expect(run.deliveries.map((d) => d.kind)).toEqual(["first", "repeat"]);
    expect(JSON.stringify(run.deliveries[1]!.body)).toContain("still happening · ×240");
  });
});
