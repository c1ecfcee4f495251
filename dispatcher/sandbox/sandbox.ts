/**
 * The host API of the QuickJS sandbox. Operations are queued and served one at a time, on the
 * dispatcher's own thread under a hard stop ("thread" isolation, the default) or by one worker
 * thread ("worker"). When the worker has to be terminated (hard timeout) or dies, a new one is
 * started, every loaded bundle is loaded again, and the other handlers of the interrupted event
 * are run again, so one handler's misbehaviour never costs another handler its event.
 */
import { matches, type KubeEvent, type MatchSpec } from "../../sdk/index.ts";
import type { Logger } from "../log.ts";
import { resolveOptions, type ResolvedOptions } from "./options.ts";
import type { Reply, SandboxHost, WireOutcome } from "./protocol.ts";
import { compileQuickJS, defaultWasmUrl, type WasmModule } from "./wasm-file.ts";
import { parseEnvelope } from "./result.ts";
import type { CallContext, CallOutcome, FailureKind, GuestLog, HandlerStats, LoadResult, SandboxOptions } from "./types.ts";
import { WorkerHost } from "./worker-host.ts";

interface Bundle {
  code: string;
  match?: MatchSpec;
}

/**
 * Each hard timeout costs a worker restart (hundreds of ms) for every handler; after this many
 * in a row a handler is no longer called until it is loaded again.
 */
export const QUARANTINE_AFTER = 3;

type LoadReply = Extract<Reply, { op: "load" }>;
type CallReply = Extract<Reply, { op: "call" }>;

/** Compile the QuickJS wasm once per process; recreated workers and throwaway sandboxes reuse it. */
const compiledWasm = new Map<string, Promise<WasmModule>>();

function quickJSModule(url: URL): Promise<WasmModule> {
  let module = compiledWasm.get(url.href);
  if (!module) {
    module = compileQuickJS(url);
    compiledWasm.set(url.href, module);
    module.catch(() => compiledWasm.delete(url.href));
  }
  return module;
}

/** The inline host is imported only when used, so "worker" isolation keeps QuickJS off the main thread. */
async function startHost(opts: ResolvedOptions, wasm: WasmModule): Promise<SandboxHost> {
  if (opts.isolation === "worker") return WorkerHost.start(wasm, opts.limits, opts.hardTimeoutMs);
  const { InlineHost } = await import("./inline-host.ts");
  return InlineHost.start(wasm, opts.limits, opts.hardTimeoutMs);
}

function failure(kind: FailureKind, message: string, micros = 0): Extract<CallOutcome, { ok: false }> {
  return { ok: false, kind, message, logs: [], micros };
}

function emptyStats(): HandlerStats {
  return { calls: 0, ok: 0, failures: {}, rebuilds: 0, totalMicros: 0 };
}

export class Sandbox {
  readonly #opts: ResolvedOptions;
  readonly #wasm: WasmModule;
  readonly #logger: Logger | undefined;
  #host: SandboxHost | undefined;
  readonly #bundles = new Map<string, Bundle>();
  readonly #stats = new Map<string, HandlerStats>();
  /** Hard timeouts in a row, per handler. */
  readonly #hardStreak = new Map<string, number>();
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(opts: ResolvedOptions, wasm: WasmModule, logger: Logger | undefined, host: SandboxHost) {
    this.#opts = opts;
    this.#wasm = wasm;
    this.#logger = logger;
    this.#host = host;
  }

  /** Compile QuickJS (once per process) and start the host (the worker, in "worker" isolation). */
  static async create(opts: SandboxOptions = {}): Promise<Sandbox> {
    const resolved = resolveOptions(opts);
    const wasm = await quickJSModule(opts.wasmUrl ?? defaultWasmUrl());
    const host = await startHost(resolved, wasm);
    return new Sandbox(resolved, wasm, opts.logger, host);
  }

  /** Load or replace a bundle. A bundle that fails to load leaves the previous version in place. */
  load(name: string, code: string): Promise<LoadResult> {
    return this.#serial(() => this.#load(name, code));
  }

  unload(name: string): Promise<void> {
    return this.#serial(async () => {
      this.#bundles.delete(name);
      this.#stats.delete(name);
      this.#hardStreak.delete(name);
      if (this.#host?.alive) await this.#host.request({ op: "unload", name });
    });
  }

  /** Names of the loaded handlers, in load order. */
  names(): string[] {
    return [...this.#bundles.keys()];
  }

  /**
   * The loaded handlers that want this event: those without a MatchSpec or whose MatchSpec admits
   * it. `call` does not apply a MatchSpec itself (a `match` function is applied in the sandbox),
   * so filter with this first to save sandbox calls.
   */
  matching(event: KubeEvent): string[] {
    const names: string[] = [];
    for (const [name, bundle] of this.#bundles) if (!bundle.match || matches(bundle.match, event)) names.push(name);
    return names;
  }

  /**
   * Run one handler on one event (a normalized KubeEvent as JSON). The handler's `ctx.handler` is
   * the name it was loaded under; a `handler` field in `ctx` is ignored.
   */
  async call(name: string, eventJson: string, ctx: CallContext): Promise<CallOutcome> {
    const [outcome] = await this.callMany([name], eventJson, ctx);
    return outcome ?? failure("crashed", "no outcome");
  }

  /** Run several handlers on one event in one worker round trip; outcomes are in `names` order. */
  callMany(names: readonly string[], eventJson: string, ctx: CallContext): Promise<CallOutcome[]> {
    return this.#serial(() => this.#callMany(names, eventJson, { cluster: ctx.cluster, timezone: ctx.timezone, now: ctx.now }));
  }

  /** Per-handler counters (a copy). */
  stats(): Record<string, HandlerStats> {
    const out: Record<string, HandlerStats> = {};
    for (const [name, s] of this.#stats) out[name] = { ...s, failures: { ...s.failures } };
    return out;
  }

  /** Stop the host (terminate the worker). Queued calls then fail as "crashed" instead of waiting. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const host = this.#host;
    this.#host = undefined;
    await host?.terminate();
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(op);
    this.#tail = result.catch((e: unknown) => this.#logger?.error({ err: e }, "sandbox operation failed"));
    return result;
  }

  /** The live host, restarting it if it died; undefined when closed or it cannot start. */
  async #worker(): Promise<SandboxHost | undefined> {
    if (this.#closed) return undefined;
    if (!this.#host?.alive) await this.#restart();
    return this.#host;
  }

  async #load(name: string, code: string): Promise<LoadResult> {
    const prefix = `handler '${name}'`;
    const host = await this.#worker();
    if (!host) return { ok: false, name, error: `${prefix}: the sandbox is ${this.#closed ? "closed" : "not running"}` };
    const reply = await host.request<LoadReply>({ op: "load", name, code });
    if ("dead" in reply) {
      this.#logger?.warn({ handler: name, reason: reply.reason }, `sandbox worker restarted while loading: ${reply.message}`);
      await this.#restart();
      const why = reply.reason === "hard-timeout" ? `evaluating the bundle did not finish within ${this.#opts.hardTimeoutMs} ms` : reply.message;
      return { ok: false, name, error: `${prefix}: ${why}` };
    }
    this.#logLoadConsole(name, reply.logs);
    if (reply.result.ok) {
      this.#hardStreak.delete(name);
      this.#bundles.set(name, reply.result.match ? { code, match: reply.result.match } : { code });
      if (!this.#stats.has(name)) this.#stats.set(name, emptyStats());
    }
    return reply.result;
  }

  /** Start a fresh worker and load every bundle into it again. */
  async #restart(): Promise<void> {
    await this.#host?.terminate();
    this.#host = undefined;
    if (this.#closed) return;
    let host: SandboxHost;
    try {
      host = await startHost(this.#opts, this.#wasm);
    } catch (e) {
      this.#logger?.error({ err: e }, "sandbox worker could not be restarted");
      return;
    }
    if (this.#closed) {
      await host.terminate();
      return;
    }
    this.#host = host;
    for (const [name, bundle] of [...this.#bundles]) {
      const reply = await host.request<LoadReply>({ op: "load", name, code: bundle.code });
      if ("dead" in reply || !reply.result.ok) {
        // It loaded before, so this is rare (time-dependent top-level code); drop it rather than loop.
        this.#bundles.delete(name);
        const error = "dead" in reply ? reply.message : reply.result.ok ? "" : reply.result.error;
        this.#logger?.error({ handler: name, error }, "handler dropped: it failed to load into the restarted sandbox worker");
        if ("dead" in reply) return this.#restart();
        continue;
      }
      const stats = this.#stats.get(name);
      if (stats) stats.rebuilds++;
    }
  }

  async #callMany(names: readonly string[], eventJson: string, ctx: CallContext): Promise<CallOutcome[]> {
    const outcomes = new Array<CallOutcome>(names.length);
    let todo: number[] = [];
    names.forEach((name, i) => {
      const streak = this.#hardStreak.get(name) ?? 0;
      if (!this.#bundles.has(name)) outcomes[i] = failure("not-loaded", `no handler named '${name}' is loaded`);
      else if (streak >= QUARANTINE_AFTER) outcomes[i] = this.#account(name, failure("quarantined", `not run: it hit the hard timeout on its last ${streak} calls; load it again to retry`));
      else todo.push(i);
    });
    while (todo.length > 0) {
      const host = await this.#worker();
      if (!host) {
        for (const i of todo) outcomes[i] = failure("crashed", `the sandbox is ${this.#closed ? "closed" : "not running"}`);
        break;
      }
      const batch = todo;
      const started = performance.now();
      const reply = await host.request<CallReply>({ op: "call", names: batch.map((i) => names[i] ?? ""), event: eventJson, ctx });
      if (!("dead" in reply)) {
        reply.outcomes.forEach((wire, k) => {
          const i = batch[k];
          if (i !== undefined) outcomes[i] = this.#account(names[i] ?? "", wire);
        });
        break;
      }
      const culprit = batch[reply.index];
      const kind: FailureKind = reply.reason === "hard-timeout" ? "hard-timeout" : "crashed";
      const micros = Math.round((performance.now() - started) * 1000);
      this.#logger?.warn({ handler: culprit === undefined ? undefined : names[culprit], reason: reply.reason }, `sandbox worker restarted: ${reply.message}`);
      // Results of handlers that finished before the culprit died with the worker: run them again.
      todo = batch.filter((i) => i !== culprit);
      if (culprit === undefined) {
        for (const i of batch) outcomes[i] = this.#account(names[i] ?? "", failure(kind, reply.message, micros));
        todo = [];
      } else {
        outcomes[culprit] = this.#account(names[culprit] ?? "", failure(kind, reply.message, micros));
      }
      await this.#restart();
    }
    return outcomes;
  }

  /** Turn a worker outcome into a CallOutcome and count it. */
  #account(name: string, wire: WireOutcome): CallOutcome {
    let outcome: CallOutcome;
    if (wire.ok) {
      const parsed = parseEnvelope(wire.envelope, this.#opts.limits.maxResultBytes);
      outcome = parsed.ok
        ? { ok: true, alarms: parsed.alarms, logs: parsed.logs, micros: wire.micros }
        : { ok: false, kind: "invalid-result", message: parsed.message, logs: parsed.logs, micros: wire.micros };
    } else {
      const { rebuilt: _rebuilt, rebuildError: _rebuildError, ...rest } = wire;
      outcome = rest;
    }
    if (!outcome.ok && outcome.kind === "hard-timeout") this.#hardStreak.set(name, (this.#hardStreak.get(name) ?? 0) + 1);
    else if (outcome.ok || outcome.kind !== "quarantined") this.#hardStreak.delete(name);
    const stats = this.#stats.get(name);
    if (stats) {
      stats.calls++;
      stats.totalMicros += outcome.micros;
      if (outcome.ok) stats.ok++;
      else stats.failures[outcome.kind] = (stats.failures[outcome.kind] ?? 0) + 1;
      if (wire.rebuilt) stats.rebuilds++;
    }
    if (wire.rebuildError !== undefined) {
      this.#bundles.delete(name);
      this.#logger?.error({ handler: name, error: wire.rebuildError }, "handler dropped: its QuickJS module could not be rebuilt");
    }
    return outcome;
  }

  /** Console lines printed by a bundle's top level (call-time lines travel in CallOutcome.logs). */
  #logLoadConsole(handler: string, logs: GuestLog[]): void {
    const logger = this.#logger;
    if (!logger) return;
    for (const line of logs) {
      const bindings = { handler, console: line.level };
      if (line.level === "error") logger.error(bindings, line.message);
      else if (line.level === "warn") logger.warn(bindings, line.message);
      else if (line.level === "debug") logger.debug(bindings, line.message);
      else logger.info(bindings, line.message);
    }
  }
}
