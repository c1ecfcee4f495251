/**
 * The image's payload without a Docker engine: build/bundle-dispatcher.ts's output, started as
 * the Deployment starts it (same Node flags), with the ServiceAccount's own token (not admin)
 * against the real apiserver, sends a card to the Feishu double for a Warning event.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILES, bundleDispatcher, type BundledDispatcher as Bundle } from "../../build/bundle-dispatcher.ts";
import { renderConfigMap } from "../../build/configmap.ts";
import { bundleHandlers } from "../../build/bundle.ts";
import { kubeconfigClient, readJson, type KubeClient } from "../../dispatcher/kube/client.ts";
import { SDK_VERSION } from "../../sdk/index.ts";
import { startFeishuDouble, type FeishuDouble } from "../feishu-double/double.ts";
import { getTestEnv } from "../env/use-testenv.ts";
import { REPO_ROOT } from "../shared-data.ts";
import { createEvent, waitFor } from "../e2e/harness.ts";
import { applyBase, cardText, kubectl, NAMESPACE, serviceAccountKubeconfig } from "./cluster.ts";
import { deploymentNodeFlags, startBundled, type BundledDispatcher } from "./bundled-process.ts";
import { parsePrometheusText, sampleValue } from "./prometheus-text.ts";

const id = randomBytes(3).toString("hex");
const appNs = `bundle-${id}`;
const token = `tok-${id}`;
const secret = `sec-${id}`;

let bundle: Bundle;
let double: FeishuDouble;
let admin: KubeClient;
let dispatcher: BundledDispatcher;
let port: number;

beforeAll(async () => {
  bundle = await bundleDispatcher({ outDir: await mkdtemp(path.join(tmpdir(), "edge-alarm-dist-")) });
  await applyBase();
  const handlers = await bundleHandlers(path.join(REPO_ROOT, "handlers"));
  await kubectl(["apply", "-f", "-"], { input: renderConfigMap(handlers, { namespace: NAMESPACE, sdkVersion: SDK_VERSION }) });
  admin = await kubeconfigClient(getTestEnv().kubeconfigPath);
  await readJson(await admin.send("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: appNs } } }), "create namespace");
  double = await startFeishuDouble({ bots: { [token]: { secret } } });
  const sa = await serviceAccountKubeconfig();
  dispatcher = await startBundled({
    bundle: bundle.main,
    credentials: { kind: "kubeconfig", path: sa.path },
    env: {
      EDGE_ALARM_CLUSTER: `bundle-${id}`,
      EDGE_ALARM_NAMESPACE: NAMESPACE,
      EDGE_ALARM_STATE_DIR: await mkdtemp(path.join(tmpdir(), "edge-alarm-state-")),
      EDGE_ALARM_FEISHU_WEBHOOK: double.url(token),
      EDGE_ALARM_FEISHU_SECRET: secret,
      // The Lease "edge-alarm" is what test/deploy/rbac.test.ts elects on; one candidate is enough here.
      EDGE_ALARM_LEADER_ELECTION: "false",
      TZ: "Asia/Shanghai",
    },
  });
  port = await dispatcher.healthPort();
  const deadline = Date.now() + 30_000;
  while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the bundled dispatcher never became ready; stderr:\n${dispatcher.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await dispatcher?.stop();
  await double?.close();
  await admin?.close();
  if (bundle) await rm(bundle.outDir, { recursive: true, force: true });
});

describe("the bundled dispatcher (image payload)", () => {
  it("is a few files: the entry, the sandbox worker, the QuickJS wasm and chunks; client-node only in a lazy chunk", () => {
    const names = bundle.files.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining([BUNDLE_FILES.main, BUNDLE_FILES.worker, BUNDLE_FILES.wasm]));
    expect(bundle.packages["@kubernetes/client-node"]).toBeUndefined();
    expect(bundle.lazyPackages["@kubernetes/client-node"]).toBeGreaterThan(0);
    expect(bundle.packages.undici).toBeGreaterThan(0);
  });

  it("starts with the Deployment's Node flags and runs as the ServiceAccount", () => {
    expect(deploymentNodeFlags()).toEqual(expect.arrayContaining([expect.stringMatching(/^--max-old-space-size=\d+$/)]));
    expect(dispatcher.child.exitCode).toBeNull();
    expect(dispatcher.stderr()).not.toMatch(/forbidden/i);
  });

  it("sends a signed card for a Warning event", async () => {
    const pod = `web-${id}`;
    await createEvent(admin, { namespace: appNs, reason: "BackOff", pod });
    // The watch is cluster-wide, so cards about other tests' events may arrive too: pick ours.
    const card = await waitFor(`a card about ${pod}`, () => double.accepted(token).find((m) => cardText(m.body).includes(pod)), 15_000, 100);
    expect(card, "a card about the event").toBeDefined();
    expect(cardText(card.body)).toContain(`bundle-${id} alarm`);
    expect(card.body).toHaveProperty("sign"); // accepted by the double, so the signature verified
  });

  it("records its reload as a Kubernetes Event in its namespace, with the ServiceAccount's rights", async () => {
    const list = await readJson<{ items: Array<{ reason: string; source?: { component?: string } }> }>(
      await admin.send("GET", `/api/v1/namespaces/${NAMESPACE}/events?fieldSelector=${encodeURIComponent("involvedObject.name=edge-alarm-handlers")}`),
      "list events",
    );
    expect(list.items.some((e) => e.reason === "HandlersReloaded" && e.source?.component === "edge-alarm")).toBe(true);
  });

  it("serves /metrics as Prometheus text", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    // Until dispatcher/main.ts mounts dispatcher/metrics.ts on the health server, there is no route.
    expect(res.status).toBe(200);
    const families = parsePrometheusText(await res.text());
    expect(sampleValue(families, "edge_alarm_alarms_total")).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  it("stops cleanly on SIGTERM", async () => {
    expect(await dispatcher.stop()).toBe(0);
  });
});
