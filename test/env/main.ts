/**
 * @module `npm run testenv`: runs the test control plane in the foreground until SIGINT/SIGTERM,
 * with an admin kubeconfig at .testenv/kubeconfig (or EDGE_ALARM_TESTENV_KUBECONFIG).
 */
import { startControlPlane } from "./control-plane.ts";
import { stderrLog } from "./log.ts";

const plane = await startControlPlane({ log: stderrLog });
process.stdout.write(`testenv ready: KUBECONFIG=${plane.kubeconfigPath} (apiserver ${plane.url})\n`);

let stopping = false;
const shutDown = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  stderrLog(`${signal}: stopping kube-apiserver and etcd`);
  plane.stop().then(
    () => {
      process.exitCode = 0;
    },
    (error: unknown) => {
      stderrLog(`stopping failed: ${(error as Error).stack ?? String(error)}`);
      process.exitCode = 1;
    },
  );
};
process.on("SIGINT", shutDown);
process.on("SIGTERM", shutDown);
