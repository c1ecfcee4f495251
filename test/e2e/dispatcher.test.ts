/**
 * Issue 3 end to end: `edge-alarm run` as a process against a real kube-apiserver (test/env),
 * posting to the Feishu test double. Latencies are printed for the closing note.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFeishuDouble, type FeishuDouble } from "../feishu-double/double.ts";
import { restartApiServer } from "../env/use-testenv.ts";
import { REPO_ROOT } from "../shared-data.ts";
import {
  buildAndApply, bumpEvent, connectCluster, createEvent, createNamespace, kubectl, startDispatcherProcess, waitFor,
  CLI, NODE, type Cluster, type DispatcherProcess,
} from "./harness.ts";

const id = randomBytes(3).toString("hex");
const ns = `e2e-${id}`;
const sysNs = `e2e-sys-${id}`;
const token = `tok-${id}`;
const secret = `sec-${id}`;

let cluster: Cluster;
let double: FeishuDouble;
let dispatcher: DispatcherProcess;
let stateDir: string;

function env(): Record<string, string> {
  return {
    EDGE_ALARM_CLUSTER: "e2e", EDGE_ALARM_NAMESPACE: sysNs, EDGE_ALARM_WATCH_NAMESPACES: ns,
    EDGE_ALARM_STATE_DIR: stateDir, EDGE_ALARM_TIMEZONE: "Asia/Shanghai",
    EDGE_ALARM_FEISHU_WEBHOOK: double.url(token), EDGE_ALARM_FEISHU_SECRET: secret,
    // These tests send a dozen distinct alarms a minute on purpose; with the default storm control
    // they would be held for digests. Grouping itself is covered by test/dispatcher/grouping.
    EDGE_ALARM_DIGEST_GROUPS: "1000", EDGE_ALARM_STORM_BURST: "100", EDGE_ALARM_STORM_PERIOD: "1s",
    // The "started" card would count among the cards these tests tally; self-alarms have their own tests.
    EDGE_ALARM_SELF_ALARMS: "none",
  };
}

/** Cards accepted by the double that mention `text` (pod names are unique per test). */
const cardsAbout = (text: string) => double.accepted(token).filter((m) => cardText(m.body).includes(text));
/** The card's JSON with lark_md entities decoded, so names can be searched as written. */
const cardText = (body: unknown) => JSON.stringify(body).replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));

async function cardFor(pod: string, timeoutMs = 10_000) {
  try {
    return await waitFor(`a card about ${pod}`, () => cardsAbout(pod)[0], timeoutMs);
  } catch (err) {
    const recent = dispatcher.logs.slice(-20).map((l) => JSON.stringify(l)).join("\n");
    const requests = double.requests(token).slice(-5).map((r) => `${r.outcome} ${r.code ?? ""} ${r.msg ?? ""}`).join("\n");
    throw new Error(`${(err as Error).message}\nlast dispatcher logs:\n${recent}\nlast requests at the double:\n${requests}`);
  }
}

async function ready(d: DispatcherProcess): Promise<void> {
  const port = await d.healthPort();
  await waitFor("readyz", async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), 30_000, 100);
}

/** Sends one more Warning and waits for it: everything created before has been handled by then. */
async function settle(): Promise<void> {
  const pod = `sentinel-${randomBytes(3).toString("hex")}`;
  await createEvent(cluster.admin, { namespace: ns, reason: "Sentinel", pod });
  await cardFor(pod);
}

async function start(): Promise<DispatcherProcess> {
  const d = startDispatcherProcess(cluster.proxiedKubeconfig, env());
  await ready(d);
  return d;
}

describe("edge-alarm run against a real kube-apiserver", () => {
  beforeAll(async () => {
    cluster = await connectCluster();
    await createNamespace(cluster.admin, ns);
    await createNamespace(cluster.admin, sysNs);
    double = await startFeishuDouble({ bots: { [token]: { secret } } });
    stateDir = await mkdtemp(path.join(tmpdir(), "edge-alarm-state-"));
    await buildAndApply(cluster.adminKubeconfig, path.join(REPO_ROOT, "handlers"), sysNs);
    dispatcher = await start();
  });

  afterAll(async () => {
    await dispatcher?.stop();
    await double?.close();
    await cluster?.close();
  });

  it("sends a signed card for a Warning within 2 s, and nothing for a Normal event", async () => {
    const t0 = Date.now();
    await createEvent(cluster.admin, { namespace: ns, reason: "BackOff", pod: "web-1", message: "Back-off restarting failed container web in pod web-1" });
    const card = await cardFor("web-1");
    const latency = card.time - t0;
    console.log(`event→card latency: ${latency} ms`);
    expect(latency).toBeLessThan(2000);
    expect(cardText(card.body)).toContain("e2e alarm");
    expect(card.body).toHaveProperty("sign"); // the double verified it, or it would not be accepted
    await createEvent(cluster.admin, { namespace: ns, reason: "Pulled", type: "Normal", pod: "quiet-1" });
    await settle();
    expect(cardsAbout("quiet-1")).toHaveLength(0);
  });

  it("sends one card for five count bumps of one event", async () => {
    const { name } = await createEvent(cluster.admin, { namespace: ns, reason: "BackOff", pod: "bumpy-1" });
    await cardFor("bumpy-1");
    for (let count = 2; count <= 5; count++) await bumpEvent(cluster.admin, ns, name, count);
    await settle();
    expect(cardsAbout("bumpy-1")).toHaveLength(1);
  });

  it("resumes after the watch connection is cut and kube-apiserver restarts: nothing lost, nothing twice", async () => {
    await createEvent(cluster.admin, { namespace: ns, reason: "Unhealthy", pod: "cut-a" });
    await cardFor("cut-a");
    expect(cluster.proxy.dropAll()).toBeGreaterThan(0);
    await createEvent(cluster.admin, { namespace: ns, reason: "Unhealthy", pod: "cut-b" });
    await restartApiServer();
    await createEvent(cluster.admin, { namespace: ns, reason: "Unhealthy", pod: "cut-c" });
    await cardFor("cut-b", 30_000);
    await cardFor("cut-c", 30_000);
    await settle();
    for (const pod of ["cut-a", "cut-b", "cut-c"]) expect(cardsAbout(pod), pod).toHaveLength(1);
    expect(dispatcher.logs.some((l) => String(l.msg).includes("watch failed"))).toBe(true);
  });

  it("after a dispatcher restart, re-sends nothing and sends what happened while it was down", async () => {
    const before = double.accepted(token).length;
    expect(await dispatcher.stop()).toBe(0);
    await createEvent(cluster.admin, { namespace: ns, reason: "FailedMount", pod: "down-1" });
    dispatcher = await start();
    await cardFor("down-1");
    await settle();
    // Exactly two new cards: the downtime event and the sentinel. Nothing from before was re-sent.
    expect(double.accepted(token).length - before).toBe(2);
  });

  it("uses a changed handler within 2 s of `edge-alarm build DIR | kubectl apply -f -`", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-site-"));
    await cp(path.join(REPO_ROOT, "handlers/default.ts"), path.join(dir, "default.ts"));
    const source = await readFile(path.join(dir, "default.ts"), "utf8");
    await writeFile(path.join(dir, "default.ts"), source.replace("`${ctx.cluster} alarm`", "`${ctx.cluster} alarm v2`"));
    const logsBefore = dispatcher.logs.length;
    const started = Date.now();
    await buildAndApply(cluster.adminKubeconfig, dir, sysNs);
    const applied = Date.now();
    const reloaded = await dispatcher.waitForLog((l) => dispatcher.logs.indexOf(l) >= logsBefore && String(l.msg).startsWith("handlers live"));
    // Timed from the moment `kubectl apply` returned; the reload often lands before it has even exited (≤ 0 ms).
    const latency = Number(reloaded.time) - applied;
    console.log(`apply→live latency: ${latency} ms after kubectl returned (build + apply pipe took ${applied - started} ms)`);
    expect(latency).toBeLessThan(2000);
    await createEvent(cluster.admin, { namespace: ns, reason: "BackOff", pod: "v2-1" });
    expect(cardText((await cardFor("v2-1")).body)).toContain("e2e alarm v2");
  });

  it("keeps the old handler when a broken bundle is applied, and says so in a HandlerRejected event", async () => {
    const built = execFileSync(NODE, [CLI, "build", path.join(REPO_ROOT, "handlers"), "--namespace", sysNs], { cwd: REPO_ROOT, encoding: "utf8" });
    const cm = parse(built) as { data: Record<string, string> };
    const broken = "throw new Error('broken on purpose');\n";
    cm.data["default.js"] = broken;
    const manifest = JSON.parse(cm.data["manifest.json"]!) as { handlers: Array<{ name: string; sha256: string; bytes: number }> };
    for (const h of manifest.handlers) if (h.name === "default") Object.assign(h, { sha256: createHash("sha256").update(broken).digest("hex"), bytes: broken.length });
    cm.data["manifest.json"] = JSON.stringify(manifest);
    await kubectl(cluster.adminKubeconfig, ["apply", "-f", "-"], stringify(cm));
    await waitFor("a HandlerRejected event", async () => {
      const out = await kubectl(cluster.adminKubeconfig, ["get", "events", "-n", sysNs, "--field-selector", "reason=HandlerRejected", "-o", "name"]);
      return out.trim() ? out : undefined;
    }, 15_000, 200);
    const shown = await kubectl(cluster.adminKubeconfig, ["get", "events", "-n", sysNs]);
    expect(shown).toContain("HandlerRejected");
    expect(shown).toContain("broken on purpose");
    await createEvent(cluster.admin, { namespace: ns, reason: "BackOff", pod: "still-works-1" });
    expect(cardText((await cardFor("still-works-1")).body)).toContain("e2e alarm v2");
    // One live version per handler: the rejected bundle neither replaced nor joined the good one.
    expect(cardsAbout("still-works-1")).toHaveLength(1);
  });

  it("stops a handler stuck in a builtin at the hard limit; the process answers and the other handler's card goes out", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-site-"));
    await cp(path.join(REPO_ROOT, "handlers/default.ts"), path.join(dir, "default.ts"));
    // Array.prototype.join on a huge sparse array never polls QuickJS's deadline (~45 s if left alone).
    await writeFile(path.join(dir, "stuck.ts"), `import { defineHandler } from "edge-alarm/sdk";
export default defineHandler({ match: { reason: "Stuck" }, handle: () => { new Array(1e9).join(""); return null; } });
`);
    const logsBefore = dispatcher.logs.length;
    await buildAndApply(cluster.adminKubeconfig, dir, sysNs);
    await dispatcher.waitForLog((l) => dispatcher.logs.indexOf(l) >= logsBefore && String(l.msg).startsWith("handlers live") && String(l.msg).includes("stuck"));
    const port = await dispatcher.healthPort();
    const started = Date.now();
    await createEvent(cluster.admin, { namespace: ns, reason: "Stuck", pod: "stuck-1" });
    const failed = await dispatcher.waitForLog((l) => String(l.handler).startsWith("stuck@") && l.kind === "hard-timeout");
    expect(String(failed.msg)).toMatch(/no answer within the 1000 ms hard limit/);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    // The default handler matched the same Warning and still sent its card.
    await cardFor("stuck-1");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
