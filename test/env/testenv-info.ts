/**
 * @module What vitest's global setup hands to test files about the shared control plane
 * (`inject("testenv")`), and the ProvidedContext typing for it.
 */

export type TestEnvInfo = {
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  url: string;
  adminToken: string;
  caPath: string;
  /** etcd's client URL, for tests that need to compact history (a real 410 Gone). */
  etcdUrl: string;
  /** Loopback URL of the setup process's control endpoint (POST <controlUrl>/restart-apiserver). */
  controlUrl: string;
};

/** `{ unavailable }` says why there is no control plane (EDGE_ALARM_TESTENV=0, or it failed to start). */
export type ProvidedTestEnv = TestEnvInfo | { unavailable: string };

declare module "vitest" {
  export interface ProvidedContext {
    testenv: ProvidedTestEnv;
  }
}
