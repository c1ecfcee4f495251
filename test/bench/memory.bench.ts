/**
 * Memory of the bundled dispatcher (the image payload), next to a bare-Node floor measured in
 * the same run, for several Node flag sets:
 * - idle: 3 handlers loaded, watching a test/env cluster, after start-up settled;
 * - storm: peak while 10,000 events are created (70 % Warning), and until it is idle again.
 * Figures: VmRSS, RssAnon (/proc/<pid>/status) and private memory (Private_Clean + Private_Dirty
 * of /proc/<pid>/smaps_rollup), in MiB; idle is the median of samples, the storm the maximum.
 *
 * The dispatcher runs "in cluster" (ServiceAccount token and CA mounted at the in-cluster path in
 * a private mount namespace) when this process may do that (Linux, root), as in a pod: the
 * kubeconfig path would load @kubernetes/client-node and measure that instead.
 *
 *   npx node test/bench/memory.bench.ts        (or: npm run bench -- memory)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { bundleDispatcher } from "../../build/bundle-dispatcher.ts";
import { buildConfigMap } from "../../build/configmap.ts";
import { kubeconfigClient, readJson, type KubeClient } from "../../dispatcher/kube/client.ts";
import { startControlPlane, type ControlPlane } from "../env/control-plane.ts";
import { startFeishuDouble, type FeishuDouble } from "../feishu-double/double.ts";
import { REPO_ROOT } from "../shared-data.ts";
import { canRunInCluster, deploymentNodeFlags, startBundled, type Credentials } from "../deploy/bundled-process.ts";

/** BENCH_MEMORY_STORM_EVENTS=N for a smaller or bigger storm (the targets are for 10,000). */
const STORM_EVENTS = Number(process.env.BENCH_MEMORY_STORM_EVENTS ?? 10_000);
const STORM_CONCURRENCY = 8;
const IDLE_SETTLE_MS = 6_000;
const IDLE_SAMPLE_MS = 4_000;
const STEADY_AFTER_MS = 60_000;
const TARGETS = { idleAnon: 24, idleRss: 72, stormAnon: 40 };

interface Sample {
  rss: number;
  anon: number;
  file: number;
  priv: number;
}

function sample(pid: number): Sample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kib = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
    return {
      rss: kib(status, "VmRSS") / 1024,
      anon: kib(status, "RssAnon") / 1024,
      file: kib(status, "RssFile") / 1024,
      priv: (kib(rollup, "Private_Clean") + kib(rollup, "Private_Dirty")) / 1024,
    };
  } catch (err) {
    // The process may have exited between two samples.
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ESRCH") return undefined;
    throw err;
  }
}

/** CPU seconds used by a process so far (utime + stime). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(samples: Sample[]): Sample {
  const pick = (k: keyof Sample) => {
    const sorted = samples.map((s) => s[k]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  return { rss: pick("rss"), anon: pick("anon"), file: pick("file"), priv: pick("priv") };
}

function peak(samples: Sample[]): Sample {
  const max = (k: keyof Sample) => Math.max(...samples.map((s) => s[k]));
  return { rss: max("rss"), anon: max("anon"), file: max("file"), priv: max("priv") };
}

async function sampleFor(pid: number, ms: number, everyMs: number): Promise<Sample[]> {
  const out: Sample[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = sample(pid);
    if (s) out.push(s);
    await sleep(everyMs);
  }
  return out;
}

/** A bare Node process with the same flags: the floor no JavaScript of ours can go below. */
async function bareFloor(flags: string[], processEnv: Record<string, string>, withWorker: boolean): Promise<Sample> {
  const code = withWorker
    ? 'new (require("node:worker_threads").Worker)("setInterval(()=>{},1e4)",{eval:true});setInterval(()=>{},1e4)'
    : "setInterval(()=>{},1e4)";
  const child = spawn(process.execPath, [...flags, "-e", code], { env: { PATH: process.env.PATH ?? "", ...processEnv }, stdio: "ignore" });
  try {
    await sleep(2_000);
    return median(await sampleFor(child.pid ?? -1, 2_000, 250));
  } finally {
    child.kill();
  }
}

/** Two small extra handlers next to the default one: 3 handlers, as the targets assume. */
async function handlersDir(work: string): Promise<string> {
  const dir = await mkdtemp(path.join(work, "handlers-"));
  await copyFile(path.join(REPO_ROOT, "handlers/default.ts"), path.join(dir, "default.ts"));
  await writeFile(
    path.join(dir, "node-trouble.ts"),
    `import { card, defineHandler, div, md } from "edge-alarm/sdk";
export default defineHandler({
  match: { kind: "Node", type: "Warning" },
  handle: (event, ctx) => ({ card: card({ title: \`\${ctx.cluster}: node \${event.involvedObject.name}\`, template: "orange", elements: [div(md\`**\${event.reason}** \${event.message}\`)] }) }),
});
`,
  );
  await writeFile(
    path.join(dir, "crashloop.ts"),
    `import { card, defineHandler, fields, md } from "edge-alarm/sdk";
export default defineHandler({
  match: { reason: ["BackOff", "CrashLoopBackOff"] },
  handle(event, ctx) {
    if (event.count < 3) return null;
    return { card: card({ title: \`\${ctx.cluster}: \${event.involvedObject.name} keeps crashing\`, template: "red", elements: [fields([md\`**Restarts:** \${event.count}\`, md\`**Since:** \${ctx.formatTime(event.firstTimestamp)}\`])] }) };
  },
});
`,
  );
  return dir;
}

async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("kubectl", ["--kubeconfig", kubeconfig, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(" ")}: ${err}`))));
    child.stdin.end(input ?? "");
  });
}

const REASONS: Array<[reason: string, type: "Warning" | "Normal"]> = [
  ["BackOff", "Warning"], ["Unhealthy", "Warning"], ["FailedMount", "Warning"], ["FailedScheduling", "Warning"],
  ["NodeNotReady", "Warning"], ["Evicted", "Warning"], ["FailedCreatePodSandBox", "Warning"],
  ["Pulled", "Normal"], ["Created", "Normal"], ["Started", "Normal"],
];

/** Create `n` distinct events in `namespace` with a few requests in flight; resolves with events/s. */
async function storm(admin: KubeClient, namespace: string, n: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const [reason, type] = REASONS[i % REASONS.length] ?? ["BackOff", "Warning"];
      const node = reason === "NodeNotReady";
      const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      const obj = node ? { kind: "Node", name: `pi-node-${i % 5}`, apiVersion: "v1" } : { kind: "Pod", namespace, name: `app-${i % 400}-${(i * 7919) % 100_000}`, apiVersion: "v1" };
      // Events about cluster-scoped objects (nodes) live in "default", as the kubelet records them.
      const ns = node ? "default" : namespace;
      const res = await admin.send("POST", `/api/v1/namespaces/${ns}/events`, {
        body: {
          apiVersion: "v1", kind: "Event", metadata: { name: `storm.${i}.${Date.now().toString(16)}`, namespace: ns },
          involvedObject: obj, reason, type, message: `${reason}: storm event ${i} with a message of realistic length, naming the container and the node`,
          source: { component: "kubelet", host: `pi-node-${i % 5}` }, firstTimestamp: now, lastTimestamp: now, count: 1 + (i % 7),
        },
      });
      await readJson(res, "create event");
    }
  };
  await Promise.all(Array.from({ length: STORM_CONCURRENCY }, worker));
  return n / ((performance.now() - started) / 1000);
}

/** Waits until the process has used under 3 % CPU for two seconds in a row (the backlog is done). */
async function untilIdle(pid: number, timeoutMs: number): Promise<number> {
  const start = Date.now();
  let quiet = 0;
  let last = cpuSeconds(pid);
  while (Date.now() - start < timeoutMs) {
    await sleep(500);
    const now = cpuSeconds(pid);
    quiet = now - last < 0.015 ? quiet + 1 : 0;
    last = now;
    if (quiet >= 4) return Date.now() - start - 2_000;
  }
  return Number.NaN;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1).padStart(6) : "     -");
const row = (label: string, s: Sample, note = "") => console.log(`${label.padEnd(58)} ${f1(s.rss)} ${f1(s.anon)} ${f1(s.priv)} ${f1(s.file)}${note ? `  ${note}` : ""}`);

interface Config {
  name: string;
  flags: string[];
  env: Record<string, string>;
}

export async function benchMemory(): Promise<void> {
  const deployed = deploymentNodeFlags();
  const lean = ["--max-old-space-size=32", "--max-semi-space-size=1"];
  const configs: Config[] = [
    { name: "node defaults", flags: [], env: {} },
    { name: "old32 semi1", flags: lean, env: {} },
    { name: "old32 semi1 liftoff-only", flags: [...lean, "--liftoff-only"], env: {} },
    { name: "deploy/ flags", flags: deployed, env: {} },
    // The hard stop in a worker thread instead of a vm watchdog on the dispatcher's thread.
    { name: "deploy/ flags, handlers in a worker thread", flags: deployed, env: { EDGE_ALARM_SANDBOX_ISOLATION: "worker" } },
    // glibc only: the node:24-alpine image uses musl, which has no malloc arenas.
    { name: "deploy/ flags + MALLOC_ARENA_MAX=1", flags: deployed, env: { MALLOC_ARENA_MAX: "1" } },
  ];
  console.log(`deploy/ flags: ${deployed.join(" ")}`);

  let plane: ControlPlane | undefined;
  let double: FeishuDouble | undefined;
  let admin: KubeClient | undefined;
  const log = () => undefined;
  const work = await mkdtemp(path.join(tmpdir(), "edge-alarm-bench-memory-"));
  try {
    plane = await startControlPlane({ log, kubeconfigPath: path.join(work, "kubeconfig") });
    const kc = plane.kubeconfigPath;
    const dist = await bundleDispatcher({ outDir: path.join(work, "dist") });
    await kubectl(kc, ["apply", "-k", path.join(REPO_ROOT, "deploy")]);
    const built = await buildConfigMap(await handlersDir(work), { namespace: "monitoring" });
    await kubectl(kc, ["apply", "-f", "-"], built.yaml);
    const token = (await kubectl(kc, ["create", "token", "edge-alarm", "-n", "monitoring", "--duration=1h"])).trim();
    admin = await kubeconfigClient(kc);
    await readJson(await admin.send("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "storm" } } }), "create namespace");
    double = await startFeishuDouble({ bots: { bench: {} } });

    const inCluster = canRunInCluster();
    let credentials: Credentials;
    if (inCluster) credentials = { kind: "in-cluster", server: plane.url, token, caPath: plane.caPath };
    else {
      const saKubeconfig = path.join(work, "sa-kubeconfig");
      await writeFile(saKubeconfig, readFileSync(kc, "utf8").replace(/token: .*/, `token: ${token}`));
      credentials = { kind: "kubeconfig", path: saKubeconfig };
    }
    console.log(`bundle: ${(dist.files.filter((f) => f.name.endsWith(".js")).reduce((a, f) => a + f.bytes, 0) / 1024).toFixed(0)} KiB of JS, handlers: ${built.bundles.map((b) => b.name).join(", ")}`);
    console.log(`credentials: ${inCluster ? "in-cluster path (ServiceAccount token in a private mount namespace)" : "kubeconfig with the ServiceAccount token: client-node is loaded, figures are higher than in a pod"}`);
    console.log(`\n${"MiB".padEnd(58)}    RSS   anon   priv   file`);

    const env = (stateDir: string): Record<string, string> => ({
      EDGE_ALARM_CLUSTER: "bench",
      EDGE_ALARM_NAMESPACE: "monitoring",
      EDGE_ALARM_STATE_DIR: stateDir,
      EDGE_ALARM_FEISHU_WEBHOOK: double?.url("bench") ?? "",
      TZ: "Asia/Shanghai",
    });

    // BENCH_MEMORY_ONLY=storm skips the idle runs (a quicker loop when working on the storm peak).
    const stormOnly = process.env.BENCH_MEMORY_ONLY === "storm";
    const idle: Array<{ config: Config; s: Sample }> = [];
    for (const config of stormOnly ? [] : configs) {
      row(`bare node, ${config.name}`, await bareFloor(config.flags, config.env, false));
      row(`bare node + one idle worker thread, ${config.name}`, await bareFloor(config.flags, config.env, true));
      const d = await startBundled({ bundle: dist.main, credentials, env: env(await mkdtemp(path.join(work, "state-"))), nodeFlags: config.flags, processEnv: config.env });
      try {
        const port = await d.healthPort();
        const readyBy = Date.now() + 30_000;
        while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) {
          if (Date.now() > readyBy) throw new Error(`not ready: ${d.stderr()}`);
          await sleep(100);
        }
        await sleep(IDLE_SETTLE_MS);
        const s = median(await sampleFor(await d.pid(), IDLE_SAMPLE_MS, 250));
        idle.push({ config, s });
        row(`dispatcher idle, 3 handlers, ${config.name}`, s);
      } finally {
        await d.stop();
      }
    }

    // The same build and flags through the kubeconfig path, which imports @kubernetes/client-node
    // (for KubeConfig's auth handling): what the in-cluster path saves by not loading it.
    if (!stormOnly) {
      const config = configs[3] as Config;
      const saKubeconfig = path.join(work, "sa-kubeconfig-client-node");
      await writeFile(saKubeconfig, readFileSync(kc, "utf8").replace(/token: .*/, `token: ${token}`));
      const d = await startBundled({ bundle: dist.main, credentials: { kind: "kubeconfig", path: saKubeconfig }, env: env(await mkdtemp(path.join(work, "state-"))), nodeFlags: config.flags, processEnv: config.env });
      try {
        const port = await d.healthPort();
        while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) await sleep(100);
        await sleep(IDLE_SETTLE_MS);
        row(`dispatcher idle, ${config.name}, kubeconfig path (client-node loaded)`, median(await sampleFor(await d.pid(), IDLE_SAMPLE_MS, 250)));
      } finally {
        await d.stop();
      }
    }

    // The storm, with the flags the Deployment ships; BENCH_MEMORY_STORM_FLAGS='--a --b' replaces them (bisecting).
    const stormFlags = process.env.BENCH_MEMORY_STORM_FLAGS?.split(" ").filter(Boolean);
    const config = stormFlags ? { name: `flags ${stormFlags.join(" ")}`, flags: stormFlags, env: {} } : (configs[3] as Config);
    // The dispatcher's own memory samples (main-thread V8 heap against RssAnon) show where the peak goes.
    // BENCH_MEMORY_STORM_ENV='{"NAME":"value"}' overrides the storm run's environment (bisecting; "" removes a variable).
    const stormEnv: Record<string, string> = { ...env(await mkdtemp(path.join(work, "state-"))), EDGE_ALARM_DEBUG_MEMORY_MS: "200" };
    for (const [k, v] of Object.entries(JSON.parse(process.env.BENCH_MEMORY_STORM_ENV ?? "{}") as Record<string, string>)) {
      if (v === "") delete stormEnv[k];
      else stormEnv[k] = v;
    }
    const d = await startBundled({ bundle: dist.main, credentials, env: stormEnv, nodeFlags: config.flags, processEnv: config.env });
    try {
      const port = await d.healthPort();
      while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) await sleep(100);
      await sleep(IDLE_SETTLE_MS);
      const pid = await d.pid();
      const before = median(await sampleFor(pid, 2_000, 250));
      const samples: Sample[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const s = sample(pid);
          if (s) samples.push(s);
          await sleep(100);
        }
      })();
      const cpuBefore = cpuSeconds(pid);
      const rate = await storm(admin, "storm", STORM_EVENTS);
      const drainMs = await untilIdle(pid, 120_000);
      const stormCpu = cpuSeconds(pid) - cpuBefore;
      sampling = false;
      await sampler;
      const top = peak(samples);
      await sleep(5_000);
      const after = median(await sampleFor(pid, 2_000, 250));
      // Steady state after activity: V8 shrinks its heap when idle; the handlers' QuickJS heaps
      // keep the pages they touched (a wasm memory never gives pages back).
      await sleep(STEADY_AFTER_MS - 7_000);
      const steady = median(await sampleFor(pid, 2_000, 250));
      row(`before the storm, ${config.name}`, before);
      row(`storm peak, ${STORM_EVENTS} events at ${rate.toFixed(0)}/s, ${config.name}`, top, `backlog done ${Number.isFinite(drainMs) ? `${(drainMs / 1000).toFixed(1)} s` : "not within 120 s"} after the last event, ${stormCpu.toFixed(1)} CPU s (${((stormCpu / STORM_EVENTS) * 1e6).toFixed(0)} µs/event)`);
      row(`5 s after the storm`, after);
      row(`${STEADY_AFTER_MS / 1000} s after the storm`, steady);
      const memLogs = d.logs.filter((l) => l.msg === "memory sample" && typeof l.anon === "number");
      const idleLog = memLogs[0];
      const peakLog = memLogs.reduce<Record<string, unknown> | undefined>((a, l) => (!a || (l.anon as number) > (a.anon as number) ? l : a), undefined);
      const fields = ["anon", "heapUsed", "heapTotal", "external", "arrayBuffers", "mallocedMemory", "outsideMainHeap", "workerHeapTotal", "workerHeapUsed", "workerExternal"];
      const pick = (l: Record<string, unknown> | undefined) => fields.map((k) => `${k} ${String(l?.[k])}`).join(", ");
      console.log(`dispatcher's samples, start: ${pick(idleLog)}\ndispatcher's samples, at the anon peak: ${pick(peakLog)}`);
      const sent = double.accepted("bench").length;
      console.log(`cards accepted by the double so far: ${sent} (alarms are grouped into digests and sent within the webhook's 5/s, 100/min)`);
      const deployedIdle = idle.find((i) => i.config === config)?.s;
      console.log(`\ntargets: idle anon ≤ ${TARGETS.idleAnon} MiB, idle RSS ≤ ${TARGETS.idleRss} MiB, storm peak anon ≤ ${TARGETS.stormAnon} MiB`);
      if (deployedIdle) {
        const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
        console.log(`deploy/ flags: idle anon ${deployedIdle.anon.toFixed(1)} (${verdict(deployedIdle.anon <= TARGETS.idleAnon)}), idle RSS ${deployedIdle.rss.toFixed(1)} (${verdict(deployedIdle.rss <= TARGETS.idleRss)}), storm anon ${top.anon.toFixed(1)} (${verdict(top.anon <= TARGETS.stormAnon)})`);
      }
    } finally {
      await d.stop();
    }
  } finally {
    await admin?.close();
    await double?.close();
    await plane?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchMemory();
}
