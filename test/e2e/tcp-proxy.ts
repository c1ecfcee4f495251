/**
 * A loopback TCP proxy in front of the kube-apiserver, so a test can cut the dispatcher's
 * connections (as a 5G drop would) without touching the apiserver. TLS passes through untouched.
 */
import { createServer, connect, type Socket, type Server } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  port: number;
  /** Destroy every open connection; new ones are accepted as before. */
  dropAll(): number;
  /** Stop passing data on the open connections without closing them (a half-open link); new ones work. */
  freezeAll(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    pairs.add([client, upstream]);
    client.on("close", () => pairs.forEach((p) => p[0] === client && pairs.delete(p)));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    dropAll() {
      const n = open.size;
      for (const s of open) s.destroy();
      return n;
    },
    freezeAll() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      const n = pairs.size;
      pairs.clear();
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
