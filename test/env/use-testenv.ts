/**
 * @module Test-side access to the shared control plane started by global-setup.ts:
 * connection details, a ready KubeConfig, and a kube-apiserver restart.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import type { TestEnvInfo } from "./testenv-info.ts";

/** Connection details of the shared control plane; throws a clear error when there is none. */
export function getTestEnv(): TestEnvInfo {
  const provided = inject("testenv");
  if (!provided) {
    throw new Error(
      "no test control plane: run vitest with globalSetup test/env/global-setup.ts " +
        "(e.g. --config test/env/vitest.testenv.config.ts; see test/env/README.md)",
    );
  }
  if ("unavailable" in provided) throw new Error(provided.unavailable);
  return provided;
}

/** A @kubernetes/client-node KubeConfig for the admin user. */
export function loadKubeConfig(env: TestEnvInfo = getTestEnv()): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfigPath);
  return kc;
}

/**
 * Restarts the shared kube-apiserver (same port, same certificates, same etcd) and resolves once it
 * is ready again. Every test file running at that moment sees the outage, so keep such tests few.
 */
export async function restartApiServer(env: TestEnvInfo = getTestEnv()): Promise<void> {
  const response = await fetch(`${env.controlUrl}/restart-apiserver`, { method: "POST" });
  if (response.status !== 204) {
    throw new Error(`kube-apiserver restart failed (HTTP ${response.status}): ${await response.text()}`);
  }
}
