/**
 * The dispatcher's small HTTP endpoint: `/healthz` (the process answers), `/readyz` (the event
 * watch is established and handlers are loaded), and any extra routes (metrics).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

// Not `import … from "node:http"`: an ES module import of node:http reads every export, and its
// WebSocket, CloseEvent and MessageEvent getters load Node's own copy of undici (fetch and all):
// +6.7 MiB anonymous memory and +5 MiB RSS in a bare Node 24 (measured), for a health endpoint.
const { createServer } = process.getBuiltinModule("node:http");

export interface Probes {
  /** Why the dispatcher is not ready, or an empty list when it is. */
  notReady(): string[];
  extraRoutes?: Record<string, () => { contentType: string; body: string }>;
}

export async function startHttpServer(port: number, probes: Probes, host = "0.0.0.0"): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const reasons = probes.notReady();
      res.writeHead(reasons.length ? 503 : 200, { "content-type": "text/plain" }).end(reasons.length ? `not ready: ${reasons.join("; ")}\n` : "ready\n");
      return;
    }
    const route = probes.extraRoutes?.[path];
    if (route) {
      const { contentType, body } = route();
      res.writeHead(200, { "content-type": contentType }).end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
