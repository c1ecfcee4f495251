/**
 * Worker-thread entry that hosts every handler's QuickJS instance, so the host can terminate it
 * when a builtin ignores the interrupt deadline. Handles one request at a time, in order.
 */
import { parentPort, workerData } from "node:worker_threads";
import { HandlerVm } from "./handler-vm.ts";
import { progressViews, type Reply, type Request, type WireOutcome, type WorkerInit } from "./protocol.ts";
import { instantiateQuickJS } from "./quickjs-module.ts";
import { formatTime } from "../time-format.ts";

const init = workerData as WorkerInit;
const progress = progressViews(init.progress);
const vms = new Map<string, HandlerVm>();

/** Tell the host's watchdog which handler runs now and since when (-1: idle). */
function running(index: number): void {
  Atomics.store(progress.startedAt, 0, BigInt(Date.now()));
  Atomics.store(progress.index, 0, index);
}

async function rebuild(vm: HandlerVm): Promise<Pick<WireOutcome, "rebuilt" | "rebuildError">> {
  const fresh = await HandlerVm.create(vm.name, vm.code, init.wasm, init.limits);
  if (fresh.vm) {
    vms.set(vm.name, fresh.vm);
    return { rebuilt: true };
  }
  vms.delete(vm.name);
  return { rebuildError: fresh.result.ok ? "unknown" : fresh.result.error };
}

async function handle(req: Request): Promise<Reply> {
  switch (req.op) {
    case "load": {
      running(0);
      const loaded = await HandlerVm.create(req.name, req.code, init.wasm, init.limits);
      // Replace only on success: a bad new version keeps the old one running.
      if (loaded.vm) vms.set(req.name, loaded.vm);
      return { op: "load", id: req.id, result: loaded.result, logs: loaded.logs };
    }
    case "unload":
      vms.delete(req.name);
      return { op: "unload", id: req.id };
    case "call": {
      const outcomes: WireOutcome[] = [];
      for (let i = 0; i < req.names.length; i++) {
        const name = req.names[i] ?? "";
        running(i);
        const vm = vms.get(name);
        if (!vm) {
          outcomes.push({ ok: false, kind: "not-loaded", message: `no handler named '${name}' is loaded`, logs: [], micros: 0 });
          continue;
        }
        const outcome: WireOutcome = vm.call(req.event, req.ctx);
        outcomes.push(vm.broken ? { ...outcome, ...(await rebuild(vm)) } : outcome);
      }
      return { op: "call", id: req.id, outcomes };
    }
  }
}

/**
 * Run a little code once so the shared compiled wasm is warm: the first call into a fresh
 * QuickJS module costs ~10 ms of lazy compilation, which would eat a 50 ms deadline on a slow node.
 * Likewise the first Intl use of an isolate (~40 ms, zone tables and host formatTime need it).
 */
async function warmUp(): Promise<void> {
  formatTime(new Date().toISOString(), "UTC", "zoned");
  const q = await instantiateQuickJS(init.wasm, init.limits.memoryPages);
  const ctx = q.module.newContext();
  const r = ctx.evalCode(
    `const o = JSON.parse('{"a":[1,2,{"b":"x<y>&z"}],"c":"2026-01-01T00:00:00Z"}');
     let s = ""; for (let i = 0; i < 50; i++) s += JSON.stringify(o).replace(/[<>&]/g, (c) => "&#" + c.charCodeAt(0) + ";");
     [s.length, Math.imul(s.length, 16777619) >>> 0, new Date(o.c).getTime()].join(",")`,
    "warm-up.js",
    { type: "global" },
  );
  // The instance is dropped, not disposed; only the compiled code it warmed matters.
  (r.error ?? r.value).dispose();
}

const port = parentPort;
if (!port) throw new Error("sandbox/worker.ts must run in a worker thread");
const booted = warmUp();
let queue: Promise<void> = booted;
port.on("message", (req: Request) => {
  queue = queue.then(async () => {
    const reply = await handle(req);
    running(-1);
    port.postMessage(reply);
  });
});
await booted;
running(-1);
port.postMessage({ op: "ready" } satisfies Reply);
