/**
 * The handlers' QuickJS instances by name, and the requests that use them (load, unload, call).
 * The same code serves both isolation modes: inside the sandbox worker (worker.ts), and on the
 * dispatcher's own thread under a hard stop (inline-host.ts). Requests are served one at a time.
 */
import { formatTime } from "../time-format.ts";
import type { HardStop } from "./hard-stop.ts";
import { HandlerVm } from "./handler-vm.ts";
import type { VmLimits } from "./options.ts";
import type { Reply, Request, WireOutcome } from "./protocol.ts";
import { instantiateQuickJS } from "./quickjs-module.ts";
import type { WasmModule } from "./wasm-file.ts";

export interface RegistryOptions {
  wasm: WasmModule;
  limits: VmLimits;
  /** Runs guest code under a hard time limit (thread isolation); the worker is terminated instead. */
  hardStop?: HardStop;
  /** Told which handler of a request runs now (its index; 0 for a load), -1 when done. */
  running?: (index: number) => void;
}

export class HandlerRegistry {
  readonly #vms = new Map<string, HandlerVm>();
  readonly #opts: RegistryOptions;

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  async handle(req: Request): Promise<Reply> {
    try {
      return await this.#handle(req);
    } finally {
      this.#opts.running?.(-1);
    }
  }

  async #handle(req: Request): Promise<Reply> {
    switch (req.op) {
      case "load": {
        this.#opts.running?.(0);
        const loaded = await this.#create(req.name, req.code);
        // Replace only on success: a bad new version keeps the old one running.
        if (loaded.vm) this.#vms.set(req.name, loaded.vm);
        return { op: "load", id: req.id, result: loaded.result, logs: loaded.logs };
      }
      case "unload":
        this.#vms.delete(req.name);
        return { op: "unload", id: req.id };
      case "call": {
        const outcomes: WireOutcome[] = [];
        for (let i = 0; i < req.names.length; i++) {
          const name = req.names[i] ?? "";
          this.#opts.running?.(i);
          const vm = this.#vms.get(name);
          if (!vm) {
            outcomes.push({ ok: false, kind: "not-loaded", message: `no handler named '${name}' is loaded`, logs: [], micros: 0 });
            continue;
          }
          const outcome: WireOutcome = vm.call(req.event, req.ctx);
          outcomes.push(vm.broken ? { ...outcome, ...(await this.#rebuild(vm)) } : outcome);
        }
        return { op: "call", id: req.id, outcomes };
      }
    }
  }

  #create(name: string, code: string) {
    const { wasm, limits, hardStop } = this.#opts;
    return HandlerVm.create(name, code, wasm, limits, hardStop);
  }

  async #rebuild(vm: HandlerVm): Promise<Pick<WireOutcome, "rebuilt" | "rebuildError">> {
    const fresh = await this.#create(vm.name, vm.code);
    if (fresh.vm) {
      this.#vms.set(vm.name, fresh.vm);
      return { rebuilt: true };
    }
    this.#vms.delete(vm.name);
    return { rebuildError: fresh.result.ok ? "unknown" : fresh.result.error };
  }
}

/**
 * Run a little code once so the shared compiled wasm is warm: the first call into a fresh
 * QuickJS module costs ~10 ms of lazy compilation, which would eat a 50 ms deadline on a slow node.
 * Likewise the first Intl use of an isolate (~40 ms, zone tables and host formatTime need it).
 */
export async function warmUp(wasm: WasmModule, limits: VmLimits): Promise<void> {
  formatTime(new Date().toISOString(), "UTC", "zoned");
  const q = await instantiateQuickJS(wasm, limits.memoryPages);
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
