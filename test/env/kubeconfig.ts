/** @module The admin kubeconfig test/env writes for kubectl and @kubernetes/client-node. */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

/** Name of the cluster, user and context in the kubeconfig. */
export const KUBECONFIG_NAME = "edge-alarm-testenv";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** EDGE_ALARM_TESTENV_KUBECONFIG, else `.testenv/kubeconfig` in the repo root (git-ignored). */
export function defaultKubeconfigPath(): string {
  return process.env["EDGE_ALARM_TESTENV_KUBECONFIG"] || join(REPO_ROOT, ".testenv", "kubeconfig");
}

export type KubeconfigSpec = { url: string; caPath: string; token: string };

export function renderKubeconfig({ url, caPath, token }: KubeconfigSpec): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: KUBECONFIG_NAME, cluster: { server: url, "certificate-authority": caPath } }],
    users: [{ name: KUBECONFIG_NAME, user: { token } }],
    contexts: [{ name: KUBECONFIG_NAME, context: { cluster: KUBECONFIG_NAME, user: KUBECONFIG_NAME } }],
    "current-context": KUBECONFIG_NAME,
  });
}

/** Writes atomically (temp + rename) so a concurrent kubectl never reads half a file; mode 0600. */
export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, renderKubeconfig(spec), { mode: 0o600 });
  await rename(temp, path);
}
