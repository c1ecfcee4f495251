/**
 * @module Vitest global setup: one control plane for the whole run, shared by every test file via
 * `inject("testenv")` (see use-testenv.ts). EDGE_ALARM_TESTENV=0 skips it for cluster-free runs.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startControlPlane, type ControlPlane } from "./control-plane.ts";
import { stderrLog } from "./log.ts";
import type { TestEnvInfo } from "./testenv-info.ts";

/**
 * Test files run in worker processes, but the processes belong to this one. This loopback endpoint
 * lets a test ask for a kube-apiserver restart; the random path keeps other local processes out.
 */
function startControlEndpoint(plane: ControlPlane): Promise<{ server: Server; url: string }> {
  const secret = randomBytes(16).toString("hex");
  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== `/${secret}/restart-apiserver`) {
      res.writeHead(404).end();
      return;
    }
    plane.restartApiServer().then(
      () => res.writeHead(204).end(),
      (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end((error as Error).message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || !address) {
        reject(new Error("control endpoint has no address"));
        return;
      }
      resolve({ server, url: `http://127.0.0.1:${address.port}/${secret}` });
    });
  });
}

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  if (process.env["EDGE_ALARM_TESTENV"] === "0") {
    provide("testenv", { unavailable: "EDGE_ALARM_TESTENV=0 skipped the test control plane" });
    return async () => {};
  }
  let plane: ControlPlane;
  try {
    plane = await startControlPlane({
      log: stderrLog,
      // Not the shared .testenv/kubeconfig: a concurrent `npm run testenv` keeps its own. The name
      // matches the temp dirs, so a later start removes it if this process dies without teardown.
      kubeconfigPath: join(tmpdir(), `edge-alarm-testenv-${process.pid}-kubeconfig`),
    });
  } catch (error) {
    // Tests without a cluster still run; those that need one fail with this message.
    const message = `the test control plane failed to start: ${(error as Error).message}`;
    stderrLog(message);
    provide("testenv", { unavailable: message });
    return async () => {};
  }
  const control = await startControlEndpoint(plane);
  const info: TestEnvInfo = {
    kubeconfigPath: plane.kubeconfigPath,
    url: plane.url,
    adminToken: plane.adminToken,
    caPath: plane.caPath,
    etcdUrl: plane.etcdUrl,
    controlUrl: control.url,
  };
  provide("testenv", info);
  return async () => {
    await new Promise((resolve) => control.server.close(resolve));
    await plane.stop();
  };
}
