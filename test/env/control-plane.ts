/**
 * @module A real control plane for tests, envtest style: etcd plus kube-apiserver on loopback
 * ports, an admin bearer token in system:masters, and an admin kubeconfig. No controllers run
 * (see ../../../shared/docs/real-apiserver.md §4 for what that leaves out).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureBinaries } from "./binaries.ts";
import { freePorts } from "./free-port.ts";
import { probe } from "./http-probe.ts";
import { isProcessAlive } from "./pid-alive.ts";
import { defaultKubeconfigPath, writeKubeconfig } from "./kubeconfig.ts";
import { formatDuration, stderrLog, type Log } from "./log.ts";
import { startManagedProcess, type ManagedProcess } from "./managed-process.ts";

export type ControlPlane = {
  /** https://127.0.0.1:<port> */
  url: string;
  /** Admin kubeconfig (context, cluster and user named `edge-alarm-testenv`). */
  kubeconfigPath: string;
  /** Bearer token of user `admin` in group `system:masters`. */
  adminToken: string;
  /** The apiserver's self-signed serving certificate (with its CA): trust this for `url`. */
  caPath: string;
  /** Working dir: etcd data, certs, tokens, and the etcd.log / kube-apiserver.log files. */
  dir: string;
  /** etcd's client URL (plain http on loopback), e.g. for compacting history in a test. */
  etcdUrl: string;
  /** Stops kube-apiserver and etcd, removes the working dir (if created here) and the kubeconfig. */
  stop(): Promise<void>;
  /** Stops kube-apiserver only and starts it again on the same port and certificates. */
  restartApiServer(): Promise<void>;
};

export type ControlPlaneOptions = {
  /** Working dir, created if absent, must be empty; kept on stop. Default: a fresh temp dir, removed on stop. */
  dir?: string;
  /** Progress lines. Default: stderr. */
  log?: Log;
  /** Default: EDGE_ALARM_TESTENV_KUBECONFIG, else `.testenv/kubeconfig` in the repo root. */
  kubeconfigPath?: string;
  /** Dir holding kube-apiserver and etcd. Default: {@link ensureBinaries}. */
  binDir?: string;
  /** Per process (etcd, then kube-apiserver). Default 60 s. */
  startTimeoutMs?: number;
};

const DEFAULT_START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 3;
const LOG_TAIL_LINES = 30;

type Layout = {
  dir: string;
  etcdData: string;
  certDir: string;
  caPath: string;
  tokenFile: string;
  saKey: string;
  etcdLog: string;
  apiServerLog: string;
};

function layoutOf(dir: string): Layout {
  const certDir = join(dir, "pki");
  return {
    dir,
    etcdData: join(dir, "etcd"),
    certDir,
    // Written by kube-apiserver itself: with no --tls-cert-file it self-signs into --cert-dir.
    caPath: join(certDir, "apiserver.crt"),
    tokenFile: join(dir, "tokens.csv"),
    saKey: join(dir, "sa.key"),
    etcdLog: join(dir, "etcd.log"),
    apiServerLog: join(dir, "kube-apiserver.log"),
  };
}

async function logTail(path: string): Promise<string> {
  try {
    const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
    return lines.slice(-LOG_TAIL_LINES).join("\n");
  } catch (error) {
    return `(could not read ${path}: ${(error as Error).message})`;
  }
}

class StartError extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.name = "StartError";
    this.portInUse = portInUse;
  }
}

/** Polls `isReady` until it returns true; fails early if the process exits, and after `timeoutMs`. */
async function waitUntilReady(
  proc: ManagedProcess,
  logPath: string,
  timeoutMs: number,
  isReady: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "no check finished yet";
  while (Date.now() < deadline) {
    if (proc.hasExited()) {
      const code = await proc.exited;
      const tail = await logTail(logPath);
      throw new StartError(
        `${proc.name} exited (code ${code}) before it was ready. Last lines of ${logPath}:\n${tail}`,
        tail.includes("address already in use"),
      );
    }
    try {
      if (await isReady()) return;
      lastProblem = "not ready yet";
    } catch (error) {
      // Connection refused and TLS files not written yet are expected while it starts.
      lastProblem = (error as Error).message;
    }
    await sleep(200);
  }
  throw new StartError(
    `${proc.name} was not ready within ${formatDuration(timeoutMs)} (last check: ${lastProblem}). ` +
      `Last lines of ${logPath}:\n${await logTail(logPath)}`,
    false,
  );
}

/** Retries `start` with fresh ports when a port was taken between choosing it and binding it. */
async function withFreshPorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePorts(count));
    } catch (error) {
      if (!(error instanceof StartError && error.portInUse && attempt < PORT_ATTEMPTS)) throw error;
    }
  }
}

async function startEtcd(binDir: string, layout: Layout, timeoutMs: number): Promise<{ proc: ManagedProcess; url: string }> {
  return withFreshPorts(2, async ([clientPort, peerPort]) => {
    const url = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    // Explicit peer port too: etcd's default 2380 may belong to a system etcd.
    const proc = startManagedProcess("etcd", join(binDir, "etcd"), [
      "--name=testenv",
      `--data-dir=${layout.etcdData}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=testenv=${peerUrl}`,
      // Test data is disposable; fsync dominates etcd latency on slow disks.
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ], layout.etcdLog);
    try {
      await waitUntilReady(proc, layout.etcdLog, timeoutMs, async () => {
        const { status, body } = await probe(`${url}/health`);
        return status === 200 && body.includes('"health":"true"');
      });
    } catch (error) {
      await proc.stop();
      throw error;
    }
    return { proc, url };
  });
}

function apiServerArgs(layout: Layout, port: number, etcdUrl: string): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--cert-dir=${layout.certDir}`,
    // A loopback advertise address starts fine, but the endpoint reconciler cannot write it into
    // the default/kubernetes Endpoints, hence no reconciler.
    "--advertise-address=127.0.0.1",
    "--endpoint-reconciler-type=none",
    "--service-cluster-ip-range=10.0.0.0/24",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${layout.saKey}`,
    `--service-account-signing-key-file=${layout.saKey}`,
    "--authorization-mode=RBAC",
    `--token-auth-file=${layout.tokenFile}`,
    // No controller-manager creates the default ServiceAccount, so this plugin would reject Pods.
    "--disable-admission-plugins=ServiceAccount",
    "--allow-privileged=true",
    "--v=2",
  ];
}

async function startApiServer(
  binDir: string,
  layout: Layout,
  port: number,
  etcdUrl: string,
  adminToken: string,
  timeoutMs: number,
): Promise<ManagedProcess> {
  const url = `https://127.0.0.1:${port}`;
  const proc = startManagedProcess("kube-apiserver", join(binDir, "kube-apiserver"), apiServerArgs(layout, port, etcdUrl), layout.apiServerLog);
  try {
    await waitUntilReady(proc, layout.apiServerLog, timeoutMs, async () => {
      if (!existsSync(layout.caPath)) return false;
      const ca = await readFile(layout.caPath);
      const ready = await probe(`${url}/readyz`, { ca, token: adminToken });
      if (ready.status !== 200) return false;
      // /readyz can pass a moment before the bootstrap namespaces exist; tests expect "default".
      const ns = await probe(`${url}/api/v1/namespaces/default`, { ca, token: adminToken });
      return ns.status === 200;
    });
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

const TEMP_PREFIX = "edge-alarm-testenv-";

/**
 * A parent killed with SIGKILL cannot remove its temp dir (~120 MB, mostly etcd's preallocated WAL).
 * Temp names carry the owner's pid, so the next start removes those whose owner is gone.
 */
async function removeOrphanedTempDirs(log: Log): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    const owner = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(name)?.[1];
    if (owner === undefined || isProcessAlive(Number(owner))) continue;
    await rm(join(tmpdir(), name), { recursive: true, force: true });
    log(`removed ${join(tmpdir(), name)}, left behind by dead process ${owner}`);
  }
}

async function prepareDir(requested: string | undefined, log: Log): Promise<{ dir: string; owned: boolean }> {
  if (!requested) {
    await removeOrphanedTempDirs(log);
    return { dir: await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`)), owned: true };
  }
  await mkdir(requested, { recursive: true });
  if ((await readdir(requested)).length > 0) {
    // Old etcd data or certs would silently change what the tests run against.
    throw new Error(`control plane dir ${requested} is not empty; pass an empty or new dir`);
  }
  return { dir: requested, owned: false };
}

async function writeCredentials(layout: Layout, adminToken: string): Promise<void> {
  await mkdir(layout.certDir, { recursive: true });
  // Columns: token, user, uid, "groups".
  await writeFile(layout.tokenFile, `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 });
  // One ECDSA key serves both service-account flags (P-256 is the quickest to generate). SEC1, not
  // PKCS#8: --service-account-key-file finds no public key in a "PRIVATE KEY" block (measured, 1.33).
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  await writeFile(layout.saKey, privateKey.export({ type: "sec1", format: "pem" }), { mode: 0o600 });
}

async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? stderrLog;
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const binDir = options.binDir ?? (await ensureBinaries(log));
  const kubeconfigPath = options.kubeconfigPath ?? defaultKubeconfigPath();
  const { dir, owned } = await prepareDir(options.dir, log);
  const layout = layoutOf(dir);
  const adminToken = randomBytes(24).toString("hex");
  const started = Date.now();

  let etcd: ManagedProcess | undefined;
  let apiServer: ManagedProcess | undefined;
  const cleanUp = async (): Promise<void> => {
    await apiServer?.stop();
    await etcd?.stop();
    if (owned) await rm(dir, { recursive: true, force: true });
  };

  let port: number;
  let etcdUrl: string;
  try {
    await writeCredentials(layout, adminToken);
    const etcdStarted = await startEtcd(binDir, layout, timeoutMs);
    etcd = etcdStarted.proc;
    etcdUrl = etcdStarted.url;
    log(`etcd ready at ${etcdUrl} (${formatDuration(Date.now() - started)})`);
    [port, apiServer] = await withFreshPorts(1, async ([candidate]) => {
      const proc = await startApiServer(binDir, layout, candidate!, etcdStarted.url, adminToken, timeoutMs);
      return [candidate!, proc] as const;
    });
    await writeKubeconfig(kubeconfigPath, { url: `https://127.0.0.1:${port}`, caPath: layout.caPath, token: adminToken });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const url = `https://127.0.0.1:${port}`;
  log(`kube-apiserver ready at ${url} (${formatDuration(Date.now() - started)} after start)`);

  let stopping: Promise<void> | undefined;
  // Serialised so that two concurrent restart requests never run two apiservers on one port.
  let restarting: Promise<void> = Promise.resolve();
  return {
    url,
    kubeconfigPath,
    adminToken,
    caPath: layout.caPath,
    dir,
    etcdUrl,
    stop() {
      stopping ??= (async () => {
        await restarting.catch(() => {
          // A failed restart already reported its error to its caller; stopping proceeds regardless.
        });
        await cleanUp();
        await removeFile(kubeconfigPath);
      })();
      return stopping;
    },
    restartApiServer() {
      const next = restarting.then(
        async () => {
          if (stopping) throw new Error("the control plane is stopping; cannot restart kube-apiserver");
          const begun = Date.now();
          await apiServer?.stop();
          apiServer = await startApiServer(binDir, layout, port, etcdUrl, adminToken, timeoutMs);
          log(`kube-apiserver restarted on ${url} in ${formatDuration(Date.now() - begun)}`);
        },
      );
      // The chain continues after a failure; the caller still sees it through `next`.
      restarting = next.catch(() => undefined);
      return next;
    },
  };
}
