/**
 * Lifecycle of a test server on 127.0.0.1: listen on a port (0 for any), remember its port, and
 * stop it by closing the listener and every open socket, so clients see ECONNREFUSED next — the
 * "link down" of the doubles — and can find it again on the same port afterwards.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { Socket } from "node:net";

export interface LoopbackServer {
  readonly port: number;
  readonly origin: string;
  /** Stops listening and cuts every connection. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
}

export async function serveOnLoopback(server: Server): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const listen = async (port: number): Promise<void> => {
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
  };
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("test server: no TCP address after listen");
  const { port } = address;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    async down() {
      if (!server.listening) return;
      const closed = once(server, "close");
      server.close();
      for (const s of sockets) s.destroy();
      await closed;
    },
    async up() {
      if (!server.listening) await listen(port);
    },
  };
}
