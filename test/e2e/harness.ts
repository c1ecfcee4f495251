/**
 * End-to-end harness: the real `edge-alarm run` as a child process against the test/env
 * kube-apiserver (through a cuttable TCP proxy) and the Feishu test double.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { kubeconfigClient, readJson, type KubeClient } from "../../dispatcher/kube/client.ts";
import { REPO_ROOT } from "../shared-data.ts";
import { getTestEnv } from "../env/use-testenv.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

const run = promisify(execFile);
export const NODE = process.execPath;
export const CLI = path.join(REPO_ROOT, "build/cli.ts");

export async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const child = execFile("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8" });
  const done = new Promise<string>((resolve, reject) => {
    let out = "", err = "";
    child.stdout?.on("data", (d: string) => (out += d));
    child.stderr?.on("data", (d: string) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(" ")} failed (${code}): ${err}`))));
  });
  child.stdin?.end(input ?? "");
  return done;
}

/** `edge-alarm build DIR | kubectl apply -f -`, literally, through a shell pipe. */
export async function buildAndApply(kubeconfig: string, dir: string, namespace: string): Promise<void> {
  await run("sh", ["-c", `"${NODE}" "${CLI}" build "${dir}" --namespace "${namespace}" | kubectl --kubeconfig "${kubeconfig}" apply -f -`], { cwd: REPO_ROOT });
}

export interface Cluster {
  admin: KubeClient;
  adminKubeconfig: string;
  /** A kubeconfig that reaches the apiserver through the proxy. */
  proxiedKubeconfig: string;
  proxy: TcpProxy;
  close(): Promise<void>;
}

export async function connectCluster(): Promise<Cluster> {
  const env = getTestEnv();
  const url = new URL(env.url);
  const proxy = await startTcpProxy(url.hostname, Number(url.port));
  const doc = parse(await readFile(env.kubeconfigPath, "utf8")) as { clusters: Array<{ cluster: { server: string } }> };
  for (const c of doc.clusters) c.cluster.server = `https://127.0.0.1:${proxy.port}`;
  const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-e2e-"));
  const proxiedKubeconfig = path.join(dir, "kubeconfig");
  await writeFile(proxiedKubeconfig, stringify(doc));
  const admin = await kubeconfigClient(env.kubeconfigPath);
  return {
    admin, adminKubeconfig: env.kubeconfigPath, proxiedKubeconfig, proxy,
    async close() {
      await admin.close();
      await proxy.close();
    },
  };
}

export async function createNamespace(admin: KubeClient, name: string): Promise<void> {
  await readJson(await admin.send("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name } } }), "create namespace");
}

let seq = 0;

export interface EventSpec {
  namespace: string;
  reason: string;
  type?: "Warning" | "Normal";
  message?: string;
  pod?: string;
  count?: number;
}

/** Create a core/v1 Event as the kubelet would (legacy recorder shape); returns its name. */
export async function createEvent(admin: KubeClient, spec: EventSpec): Promise<{ name: string; uid: string }> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const pod = spec.pod ?? `app-${++seq}`;
  const name = `${pod}.${Date.now().toString(16)}${seq}`;
  const created = await readJson<{ metadata: { uid: string } }>(
    await admin.send("POST", `/api/v1/namespaces/${spec.namespace}/events`, {
      body: {
        apiVersion: "v1", kind: "Event",
        metadata: { name, namespace: spec.namespace },
        involvedObject: { kind: "Pod", namespace: spec.namespace, name: pod, apiVersion: "v1", fieldPath: "spec.containers{app}" },
        reason: spec.reason, message: spec.message ?? `${spec.reason} happened`, type: spec.type ?? "Warning",
        source: { component: "kubelet", host: "pi-node-1" }, reportingComponent: "kubelet", reportingInstance: "pi-node-1",
        firstTimestamp: now, lastTimestamp: now, count: spec.count ?? 1,
      },
    }),
    "create event",
  );
  return { name, uid: created.metadata.uid };
}

/** Bump an event's count and lastTimestamp, as the kubelet does for a repeat. */
export async function bumpEvent(admin: KubeClient, namespace: string, name: string, count: number): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  await readJson(
    await admin.send("PATCH", `/api/v1/namespaces/${namespace}/events/${name}`, { body: { count, lastTimestamp: now }, contentType: "application/merge-patch+json" }),
    "bump event",
  );
}

export interface JsonLogs {
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Collects a child's pino JSON lines from stdout (and its stderr) and waits for a matching line. */
export function captureJsonLogs(child: ChildProcess, what: string, defaultTimeoutMs = 15_000): JsonLogs {
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let buffered = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
    for (const w of waiters) w();
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = defaultTimeoutMs) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const hit = logs.find(pred);
        if (!hit) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for a log line of the ${what}; stderr:\n${stderr}\nlast logs:\n${logs.slice(-15).map((l) => JSON.stringify(l)).join("\n")}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { logs, stderr: () => stderr, waitForLog };
}

export interface DispatcherProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  healthPort(): Promise<number>;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export function startDispatcherProcess(kubeconfig: string, env: Record<string, string>): DispatcherProcess {
  const child = spawn(NODE, [CLI, "run", "--kubeconfig", kubeconfig], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", EDGE_ALARM_HTTP_PORT: "0", EDGE_ALARM_LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { logs, waitForLog } = captureJsonLogs(child, "dispatcher");
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child, logs, waitForLog,
    async healthPort() {
      const line = await waitForLog((l) => l.msg === "health endpoint listening");
      return Number(line.port);
    },
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
