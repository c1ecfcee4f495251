/**
 * The handlers on the dispatcher's own thread ("thread" isolation, the default): every guest run
 * is under a hard stop (hard-stop.ts), so a builtin that ignores the interrupt deadline is
 * terminated like the worker would be, without the ~10 MiB a worker thread costs. A terminated
 * handler is reported as "hard-timeout" and rebuilt; the other handlers of the event are not
 * affected, so this host never reports a Death.
 */
import { hardStop } from "./hard-stop.ts";
import { HandlerRegistry, warmUp } from "./handler-registry.ts";
import type { VmLimits } from "./options.ts";
import type { Death, Reply, RequestBody, SandboxHost } from "./protocol.ts";
import type { WasmModule } from "./wasm-file.ts";

export class InlineHost implements SandboxHost {
  readonly #registry: HandlerRegistry;
  #nextId = 1;
  #closed = false;

  private constructor(registry: HandlerRegistry) {
    this.#registry = registry;
  }

  static async start(wasm: WasmModule, limits: VmLimits, hardTimeoutMs: number): Promise<InlineHost> {
    await warmUp(wasm, limits);
    return new InlineHost(new HandlerRegistry({ wasm, limits, hardStop: hardStop(hardTimeoutMs) }));
  }

  get alive(): boolean {
    return !this.#closed;
  }

  async request<R extends Reply>(req: RequestBody): Promise<R | Death> {
    if (this.#closed) return { dead: true, reason: "crashed", index: -1, message: "the sandbox was closed" };
    return (await this.#registry.handle({ ...req, id: this.#nextId++ })) as R;
  }

  async terminate(): Promise<void> {
    // Dropping the registry's instances is enough: their wasm memories go with the next GC.
    this.#closed = true;
  }
}
