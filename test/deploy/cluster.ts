/**
 * What the deploy tests share: applying the deploy/ base to the test/env apiserver, and
 * credentials of the edge-alarm ServiceAccount (a real TokenRequest token, not impersonation).
 */
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT } from "../shared-data.ts";
import { getTestEnv } from "../env/use-testenv.ts";

export const NAMESPACE = "monitoring";
export const SERVICE_ACCOUNT = "edge-alarm";
export const SA_USER = `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`;
export const DEPLOY_DIR = path.join(REPO_ROOT, "deploy");

/** Run kubectl against the test apiserver as admin; rejects with kubectl's stderr. */
export function kubectl(args: string[], opts: { input?: string; kubeconfig?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile("kubectl", ["--kubeconfig", opts.kubeconfig ?? getTestEnv().kubeconfigPath, ...args], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`kubectl ${args.join(" ")} failed: ${stderr || err.message}`), { stdout, stderr, code: (err as { code?: unknown }).code }));
      else resolve({ stdout, stderr });
    });
    child.stdin?.end(opts.input ?? "");
  });
}

/**
 * `kubectl auth can-i VERB RESOURCE [-n NS | --all-namespaces] --as SA`: true for yes (exit 0),
 * false for no (exit 1). `namespace` "*" means every namespace.
 */
export async function canI(verb: string, resource: string, namespace?: string): Promise<boolean> {
  const scope = namespace === "*" ? ["--all-namespaces"] : namespace ? ["-n", namespace] : [];
  try {
    await kubectl(["auth", "can-i", verb, resource, "--as", SA_USER, ...scope]);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 1) return false;
    throw err;
  }
}

/**
 * `kubectl apply -k deploy/` for real. Several test files may do it at once: a lost create race
 * (AlreadyExists, Conflict) is retried, and an apply of identical objects changes nothing.
 */
export async function applyBase(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await kubectl(["apply", "-k", DEPLOY_DIR]);
      return;
    } catch (err) {
      if (attempt >= 4 || !/AlreadyExists|Conflict|the object has been modified/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Create the namespace for real (a server dry run of a Namespace does not create it). */
export async function ensureNamespace(name = NAMESPACE): Promise<void> {
  try {
    await kubectl(["create", "namespace", name]);
  } catch (err) {
    if (!/AlreadyExists/.test((err as Error).message)) throw err;
  }
}

/** A kubeconfig for the ServiceAccount: a TokenRequest token, the test apiserver and its CA. */
export async function serviceAccountKubeconfig(): Promise<{ path: string; token: string }> {
  const env = getTestEnv();
  const token = (await kubectl(["create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, "--duration=1h"])).stdout.trim();
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "testenv", cluster: { server: env.url, "certificate-authority": env.caPath } }],
    users: [{ name: SERVICE_ACCOUNT, user: { token } }],
    contexts: [{ name: "sa", context: { cluster: "testenv", user: SERVICE_ACCOUNT, namespace: NAMESPACE } }],
    "current-context": "sa",
  };
  const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-sa-"));
  const file = path.join(dir, "kubeconfig");
  await writeFile(file, stringify(doc), { mode: 0o600 });
  return { path: file, token };
}

/** A card body as text a reader sees: lark_md's numeric entities decoded (names are escaped in cards). */
export function cardText(body: unknown): string {
  return JSON.stringify(body).replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}
