/**
 * The bundled dispatcher (build/bundle-dispatcher.ts output) as a child process, the way the
 * image runs it: `node <flags> edge-alarm.mjs run`. Either with a kubeconfig, or "in cluster":
 * in a private mount namespace (Linux, root) where the ServiceAccount token and CA are mounted
 * at the in-cluster path, so the real in-cluster code path runs and client-node is never loaded.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { captureJsonLogs } from "../e2e/harness.ts";
import { REPO_ROOT } from "../shared-data.ts";

/** The Node flags of the Deployment in deploy/, so tests and the bench run what is shipped. */
export function deploymentNodeFlags(): string[] {
  const docs = readFileSync(path.join(REPO_ROOT, "deploy/deployment.yaml"), "utf8");
  const d = parse(docs) as { spec: { template: { spec: { containers: Array<{ command?: string[] }> } } } };
  const command = d.spec.template.spec.containers[0]?.command ?? [];
  return command.filter((a) => a.startsWith("--"));
}

/** True when this process may create a private mount namespace (the in-cluster mode needs it). */
export function canRunInCluster(): boolean {
  if (process.platform !== "linux") return false;
  const r = spawnSync("unshare", ["-m", "sh", "-c", "mount -n -t tmpfs tmpfs /run"], { stdio: "ignore" });
  return r.status === 0;
}

export type Credentials =
  | { kind: "kubeconfig"; path: string }
  /** The apiserver's https URL, a bearer token and the CA file. */
  | { kind: "in-cluster"; server: string; token: string; caPath: string };

export interface BundledDispatcher {
  child: ChildProcess;
  /** The dispatcher's pid (for /proc/<pid>/status). */
  pid(): Promise<number>;
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  healthPort(): Promise<number>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startBundled(opts: {
  bundle: string;
  credentials: Credentials;
  env: Record<string, string>;
  nodeFlags?: string[];
  /** Extra process environment (e.g. MALLOC_ARENA_MAX), outside EDGE_ALARM_*. */
  processEnv?: Record<string, string>;
}): Promise<BundledDispatcher> {
  const node = process.execPath;
  const flags = opts.nodeFlags ?? deploymentNodeFlags();
  const baseEnv: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", EDGE_ALARM_HTTP_PORT: "0", ...opts.processEnv, ...opts.env };
  let child: ChildProcess;
  if (opts.credentials.kind === "kubeconfig") {
    child = spawn(node, [...flags, opts.bundle, "run", "--kubeconfig", opts.credentials.path], { env: baseEnv, stdio: ["ignore", "pipe", "pipe"] });
  } else {
    const { server, token, caPath } = opts.credentials;
    const url = new URL(server);
    const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-sa-files-"));
    await writeFile(path.join(dir, "token"), token, { mode: 0o600 });
    await writeFile(path.join(dir, "ca.crt"), readFileSync(caPath));
    // tmpfs over /run only inside the new mount namespace: nothing changes on the host.
    const script = 'mount -n -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && cp "$SA_SRC"/token "$SA_SRC"/ca.crt /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"';
    child = spawn("unshare", ["-m", "sh", "-c", script, "sh", node, ...flags, opts.bundle, "run"], {
      env: { ...baseEnv, SA_SRC: dir, KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port || "443" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
  const { logs, stderr, waitForLog } = captureJsonLogs(child, "bundled dispatcher", 20_000);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    logs,
    stderr,
    waitForLog,
    async pid() {
      // unshare (without --fork) and sh's `exec` keep the pid: it is the dispatcher's in both modes.
      if (child.pid === undefined) throw new Error("the dispatcher did not start");
      return child.pid;
    },
    async healthPort() {
      const line = await waitForLog((l) => l.msg === "health endpoint listening");
      return Number(line.port);
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return exited;
    },
  };
}
