/**
 * HA end to end: two bundled dispatchers with leader election against the real apiserver. Only
 * the leader sends; when it crashes (SIGKILL, no Lease release), the other takes over within the
 * lease duration and sends what arrived meanwhile. Runs with admin credentials, its own
 * namespace and its own Lease, so it cannot disturb other files (RBAC is rbac.test.ts's job).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleDispatcher } from "../../build/bundle-dispatcher.ts";
import { bundleHandlers } from "../../build/bundle.ts";
import { renderConfigMap } from "../../build/configmap.ts";
import { kubeconfigClient, readJson, type KubeClient } from "../../dispatcher/kube/client.ts";
import { SDK_VERSION } from "../../sdk/index.ts";
import { startFeishuDouble, type FeishuDouble } from "../feishu-double/double.ts";
import { getTestEnv } from "../env/use-testenv.ts";
import { REPO_ROOT } from "../shared-data.ts";
import { createEvent, waitFor } from "../e2e/harness.ts";
import { cardText, kubectl } from "./cluster.ts";
import { startBundled, type BundledDispatcher } from "./bundled-process.ts";
import { parsePrometheusText, sampleValue } from "./prometheus-text.ts";

const id = randomBytes(3).toString("hex");
const sysNs = `ha-sys-${id}`;
const appNs = `ha-app-${id}`;
const token = `tok-${id}`;
/** The base's lease duration (the dispatcher's default); a crashed leader is replaced after it. */
const LEASE_MS = 15_000;

let admin: KubeClient;
let double: FeishuDouble;
let bundle: string;
let work: string;
const replicas: Record<string, { d: BundledDispatcher; port: number }> = {};

const cardsAbout = (pod: string) => double.accepted(token).filter((m) => cardText(m.body).includes(pod));

async function leaderGauge(port: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) return undefined;
  return sampleValue(parsePrometheusText(await res.text()), "edge_alarm_leader");
}

async function start(name: string): Promise<{ d: BundledDispatcher; port: number }> {
  const d = await startBundled({
    bundle,
    credentials: { kind: "kubeconfig", path: getTestEnv().kubeconfigPath },
    env: {
      EDGE_ALARM_CLUSTER: `ha-${id}`,
      EDGE_ALARM_NAMESPACE: sysNs,
      EDGE_ALARM_WATCH_NAMESPACES: appNs,
      EDGE_ALARM_STATE_DIR: await mkdtemp(path.join(work, `${name}-`)),
      EDGE_ALARM_FEISHU_WEBHOOK: double.url(token),
      EDGE_ALARM_LEADER_ELECTION: "true",
      EDGE_ALARM_LEASE_NAME: `edge-alarm-${id}`,
      EDGE_ALARM_POD_NAME: name,
      EDGE_ALARM_SELF_ALARMS: "none",
    },
  });
  const port = await d.healthPort();
  await waitFor("readyz", async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), 30_000);
  replicas[name] = { d, port };
  return { d, port };
}

const warning = (pod: string) => createEvent(admin, { namespace: appNs, reason: "BackOff", pod });

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edge-alarm-ha-"));
  bundle = (await bundleDispatcher({ outDir: path.join(work, "dist") })).main;
  admin = await kubeconfigClient(getTestEnv().kubeconfigPath);
  for (const ns of [sysNs, appNs]) await readJson(await admin.send("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } } }), "create namespace");
  await kubectl(["apply", "-f", "-"], { input: renderConfigMap(await bundleHandlers(path.join(REPO_ROOT, "handlers")), { namespace: sysNs, sdkVersion: SDK_VERSION }) });
  double = await startFeishuDouble({ bots: { [token]: {} } });
});

afterAll(async () => {
  for (const r of Object.values(replicas)) await r.d.stop();
  await double?.close();
  await admin?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("two replicas with leader election", () => {
  it("sends from the leader only, and fails over within the lease duration when it crashes", async () => {
    const a = await start("replica-a");
    // Until dispatcher/main.ts wires leader election and /metrics, there is nothing to test.
    const gauge = await leaderGauge(a.port);
    await waitFor("replica-a leads", async () => ((await leaderGauge(a.port)) === 1 ? true : undefined), 10_000);
    const b = await start("replica-b");
    expect(await leaderGauge(b.port)).toBe(0);

    await warning(`before-${id}`);
    await waitFor("a card before the failover", () => cardsAbout(`before-${id}`)[0], 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(cardsAbout(`before-${id}`), "the follower sends nothing while the leader lives").toHaveLength(1);

    const killedAt = Date.now();
    a.d.child.kill("SIGKILL"); // a crash: the Lease still names replica-a
    await warning(`during-${id}`);
    await waitFor("replica-b leads", async () => ((await leaderGauge(b.port)) === 1 ? true : undefined), LEASE_MS + 10_000);
    const tookMs = Date.now() - killedAt;
    console.log(`failover after a crash: ${(tookMs / 1000).toFixed(1)} s (lease ${LEASE_MS / 1000} s)`);
    expect(tookMs).toBeLessThan(LEASE_MS + 2_000 * 1.2 + 2_000);

    // What arrived while nobody led is sent by the new leader.
    await waitFor("the card raised during the failover", () => cardsAbout(`during-${id}`)[0], 10_000);
    await warning(`after-${id}`);
    await waitFor("a card after the failover", () => cardsAbout(`after-${id}`)[0], 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(cardsAbout(`during-${id}`)).toHaveLength(1);
    expect(cardsAbout(`after-${id}`)).toHaveLength(1);
  }, 90_000);
});
