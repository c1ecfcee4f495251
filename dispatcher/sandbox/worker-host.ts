/**
 * The host end of one sandbox worker ("worker" isolation): start it, send one request at a time, and watch it.
 * The watchdog terminates the worker when one handler (or one bundle load) has been running for
 * longer than hardTimeoutMs; the shared progress record tells which one and since when.
 */
import { Worker } from "node:worker_threads";
import { trackWorkerMemory } from "../memory-debug.ts";
import type { VmLimits } from "./options.ts";
import type { WasmModule } from "./wasm-file.ts";
import { PROGRESS_BYTES, progressViews, type Death, type Reply, type RequestBody, type SandboxHost, type WorkerInit } from "./protocol.ts";

/** File name of the worker entry when the dispatcher runs as a bundle (see WORKER_URL). */
export const BUNDLED_WORKER_FILE = "sandbox-worker.js";

/**
 * The worker entry: `./worker.ts` next to this module when running from source (Node type
 * stripping). Inside a bundle, import.meta.url is the bundle's own file, so the bundler must emit
 * dispatcher/sandbox/worker.ts as a second entry point named BUNDLED_WORKER_FILE next to it.
 */
export const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : `./${BUNDLED_WORKER_FILE}`, import.meta.url);

/** How long a fresh worker may take to import QuickJS and warm up before it counts as broken. */
const BOOT_TIMEOUT_MS = 15_000;


interface Pending {
  id: number;
  resolve(reply: Reply | Death): void;
}

export class WorkerHost implements SandboxHost {
  readonly #worker: Worker;
  readonly #progress: ReturnType<typeof progressViews>;
  readonly #hardTimeoutMs: number;
  #pending: Pending | undefined;
  readonly #watchdog: NodeJS.Timeout;
  #nextId = 1;
  #dead: string | undefined;

  private constructor(worker: Worker, progress: ReturnType<typeof progressViews>, hardTimeoutMs: number) {
    this.#worker = worker;
    this.#progress = progress;
    this.#hardTimeoutMs = hardTimeoutMs;
    // One coarse timer for the worker's life (re-arming a timer per request costs more than the
    // check); the hard limit is therefore enforced within +20%.
    this.#watchdog = setInterval(() => this.#check(), Math.max(5, Math.min(200, hardTimeoutMs / 5)));
    this.#watchdog.unref();
  }

  /** Start a worker and wait until it has loaded QuickJS. Throws if it cannot boot. */
  static async start(wasm: WasmModule, limits: VmLimits, hardTimeoutMs: number): Promise<WorkerHost> {
    const shared = new SharedArrayBuffer(PROGRESS_BYTES);
    const init: WorkerInit = { wasm, progress: shared, limits };
    const worker = new Worker(WORKER_URL, { workerData: init });
    trackWorkerMemory(worker);
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        void worker.terminate();
        reject(new Error(`the sandbox worker could not start: ${why}`));
      };
      const onMessage = (msg: Reply) => {
        if (msg.op !== "ready") return;
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve();
      };
      const onError = (e: Error) => fail(e.message);
      const onExit = (code: number) => fail(`it exited with code ${code}`);
      const timer = setTimeout(() => fail(`no answer within ${BOOT_TIMEOUT_MS} ms`), BOOT_TIMEOUT_MS);
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
    });
    const host = new WorkerHost(worker, progressViews(shared), hardTimeoutMs);
    worker.on("message", (reply: Reply) => host.#onReply(reply));
    worker.on("error", (e: Error) => host.#die("crashed", `the sandbox worker failed: ${e.message}`));
    worker.on("exit", (code: number) => host.#die("crashed", `the sandbox worker exited with code ${code}`));
    // Idle workers must not keep the process alive; a pending request re-refs it.
    worker.unref();
    return host;
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** Send one request; resolves with the reply, or with a Death when the worker had to go. */
  request<R extends Reply>(req: RequestBody): Promise<R | Death> {
    if (this.#pending) throw new Error("WorkerHost.request: a request is already in flight (callers must queue)");
    if (this.#dead !== undefined) return Promise.resolve({ dead: true, reason: "crashed", index: -1, message: this.#dead });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending = { id, resolve: resolve as (reply: Reply | Death) => void };
      this.#worker.ref();
      this.#worker.postMessage({ ...req, id });
    });
  }

  #check(): void {
    if (!this.#pending || Atomics.load(this.#progress.index, 0) < 0) return;
    const running = Date.now() - Number(Atomics.load(this.#progress.startedAt, 0));
    if (running > this.#hardTimeoutMs) {
      this.#die("hard-timeout", `no answer within the ${this.#hardTimeoutMs} ms hard limit; the sandbox worker was terminated`);
    }
  }

  #settle(reply: Reply | Death): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    if (this.#dead === undefined) this.#worker.unref();
    pending.resolve(reply);
  }

  #onReply(reply: Reply): void {
    if (reply.op === "ready" || reply.id !== this.#pending?.id) return;
    this.#settle(reply);
  }

  #die(reason: Death["reason"], message: string): void {
    if (this.#dead !== undefined) return;
    this.#dead = message;
    clearInterval(this.#watchdog);
    const index = Atomics.load(this.#progress.index, 0);
    void this.#worker.terminate();
    this.#settle({ dead: true, reason, index, message });
  }

  /** Stop the worker; a request in flight resolves as a crash. */
  async terminate(): Promise<void> {
    this.#die("crashed", "the sandbox was closed");
    await this.#worker.terminate();
  }
}
