/**
 * A tiny HTTP proxy on 127.0.0.1 for testing the proxy path: it tunnels CONNECT requests and
 * forwards absolute-form requests (`POST http://host/path`), only ever to loopback, and records
 * what went through it, including any Proxy-Authorization it was sent.
 */
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { serveOnLoopback } from "./loopback-server.ts";

export interface ProxiedRequest {
  method: "CONNECT" | "FORWARD";
  /** host:port the client asked for. */
  target: string;
  proxyAuthorization: string | undefined;
}

export interface ForwardProxy {
  readonly url: string;
  readonly seen: ProxiedRequest[];
  close(): Promise<void>;
}

const isLoopback = (host: string): boolean => host === "127.0.0.1" || host === "localhost" || host === "[::1]";

export async function startForwardProxy(): Promise<ForwardProxy> {
  const seen: ProxiedRequest[] = [];
  const tunnels = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    const target = new URL(req.url ?? "/");
    seen.push({ method: "FORWARD", target: target.host, proxyAuthorization: req.headers["proxy-authorization"] });
    if (!isLoopback(target.hostname)) {
      res.writeHead(403).end("loopback only");
      return;
    }
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end("bad gateway"));
    req.pipe(upstream);
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    seen.push({ method: "CONNECT", target, proxyAuthorization: req.headers["proxy-authorization"] });
    const [host, port] = target.split(":");
    if (host === undefined || !isLoopback(host)) {
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on("close", () => tunnels.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  const loopback = await serveOnLoopback(server);
  return {
    url: loopback.origin,
    seen,
    async close() {
      for (const s of tunnels) s.destroy();
      await loopback.down();
    },
  };
}
