/**
 * Worker-thread entry for the "worker" isolation mode: hosts every handler's QuickJS instance,
 * so the host can terminate the thread when a builtin ignores the interrupt deadline. Handles one
 * request at a time, in order.
 */
import { parentPort, workerData } from "node:worker_threads";
import { HandlerRegistry, warmUp } from "./handler-registry.ts";
import { progressViews, type Reply, type Request, type WorkerInit } from "./protocol.ts";

const init = workerData as WorkerInit;
const progress = progressViews(init.progress);

/** Tell the host's watchdog which handler runs now and since when (-1: idle). */
function running(index: number): void {
  Atomics.store(progress.startedAt, 0, BigInt(Date.now()));
  Atomics.store(progress.index, 0, index);
}

const registry = new HandlerRegistry({ wasm: init.wasm, limits: init.limits, running });
const port = parentPort;
if (!port) throw new Error("sandbox/worker.ts must run in a worker thread");
const booted = warmUp(init.wasm, init.limits);
let queue: Promise<void> = booted;
port.on("message", (req: Request) => {
  queue = queue.then(async () => port.postMessage(await registry.handle(req)));
});
await booted;
running(-1);
port.postMessage({ op: "ready" } satisfies Reply);
