/** @module Free loopback TCP ports for etcd and kube-apiserver. */
import { createServer } from "node:net";

/**
 * `count` distinct free ports on 127.0.0.1, held together while asking so the kernel cannot hand
 * out one twice. Another process can still take one before our child binds it: callers retry on
 * "address already in use".
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    const ports: number[] = [];
    for (const server of servers) {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
      const address = server.address();
      if (typeof address !== "object" || !address) throw new Error("the kernel gave no port");
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
