/**
 * One handler bundle in its own QuickJS instance (own WebAssembly.Memory, one runtime, one
 * context), reused across events. Runs on the dispatcher's thread under a hard stop, or inside
 * the sandbox worker. Never throws from `call`:
 * every failure comes back as data, and a module that can no longer be trusted is flagged
 * `broken` so its owner builds a fresh one (it is dropped, never disposed: disposing a
 * corrupted runtime aborts the wasm).
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten-core";
import { formatTime } from "../time-format.ts";
import type { TimeStyle } from "../../sdk/index.ts";
import { GLUE_SOURCE, type GlueError, type GlueInit } from "./glue.ts";
import { HardTimeout, type HardStop } from "./hard-stop.ts";
import { decodeLogs } from "./guest-logs.ts";
import { MAX_LOG_CHARS, MAX_LOG_LINES, WASM_PAGE_BYTES, type VmLimits } from "./options.ts";
import { GuestHeapExhausted, instantiateQuickJS, type QuickJSInstance } from "./quickjs-module.ts";
import type { WasmModule } from "./wasm-file.ts";
import type { CallContext, FailureKind, GuestLog, LoadResult } from "./types.ts";
import { zoneTableFor, type ZoneTable } from "./zone-table.ts";

export type VmCallResult =
  | { ok: true; envelope: string; micros: number }
  | { ok: false; kind: FailureKind; message: string; stack?: string; logs: GuestLog[]; micros: number };

export interface VmLoad {
  vm?: HandlerVm;
  result: LoadResult;
  logs: GuestLog[];
}

interface GlueFunctions {
  init: QuickJSHandle;
  configure: QuickJSHandle;
  call: QuickJSHandle;
  takeLogs: QuickJSHandle;
  describe: QuickJSHandle;
  ping: QuickJSHandle;
}

/** An RFC 3339 time is ~30 characters; anything much longer is a handler bug, not a time. */
const MAX_TIME_ARG = 64;
const MAX_STACK_LINES = 20;

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Which failure a described guest exception is. Uncatchable interrupts and OOM are InternalErrors. */
export function classify(error: GlueError): FailureKind {
  if (error.message === "stack overflow") return "stack";
  if (error.name === "InternalError" && error.message === "interrupted") return "timeout";
  if (error.name === "InternalError" && error.message === "out of memory") return "oom";
  return "throw";
}

export class HandlerVm {
  readonly name: string;
  readonly code: string;
  /** Set when the module must not be used again; the owner replaces the whole HandlerVm. */
  broken = false;
  readonly #q: QuickJSInstance;
  readonly #rt: QuickJSRuntime;
  readonly #ctx: QuickJSContext;
  readonly #limits: VmLimits;
  readonly #hardStop: HardStop;
  #glue: GlueFunctions | undefined;
  #deadline = 0;
  #hostFormatCalls = 0;
  #cluster: string | undefined;
  #timezone: string | undefined;
  #zone: ZoneTable | null | undefined;

  private constructor(name: string, code: string, q: QuickJSInstance, limits: VmLimits, hardStop: HardStop) {
    this.name = name;
    this.code = code;
    this.#q = q;
    this.#limits = limits;
    this.#hardStop = hardStop;
    this.#rt = q.module.newRuntime();
    this.#rt.setMaxStackSize(limits.stackBytes);
    // setMemoryLimit counts ~8 bytes per allocation in 0.32, so it only stops a single huge
    // request; the real cap is the WebAssembly.Memory maximum.
    this.#rt.setMemoryLimit(Math.floor((limits.memoryPages * WASM_PAGE_BYTES) / 2));
    this.#rt.setInterruptHandler(() => Date.now() > this.#deadline);
    this.#ctx = this.#rt.newContext();
  }

  /**
   * Build a QuickJS instance, evaluate the bundle and check its default export. `hardStop` runs
   * the guest code under a hard time limit; without it (in the worker) the worker is terminated.
   */
  static async create(name: string, code: string, wasm: WasmModule, limits: VmLimits, hardStop: HardStop = (fn) => fn()): Promise<VmLoad> {
    const prefix = `handler '${name}'`;
    let vm: HandlerVm;
    try {
      vm = new HandlerVm(name, code, await instantiateQuickJS(wasm, limits.memoryPages), limits, hardStop);
    } catch (e) {
      return { result: { ok: false, name, error: `${prefix}: could not create a QuickJS instance: ${errorText(e)}` }, logs: [] };
    }
    try {
      return hardStop(() => vm.#load(prefix));
    } catch (e) {
      if (e instanceof HardTimeout) return { result: { ok: false, name, error: `${prefix}: evaluating the bundle did not finish within ${e.limitMs} ms` }, logs: [] };
      return { result: { ok: false, name, error: `${prefix}: loading crashed QuickJS: ${errorText(e)}` }, logs: [] };
    }
  }

  #load(prefix: string): VmLoad {
    const ctx = this.#ctx;
    const name = this.name;
    this.#deadline = Date.now() + this.#limits.loadDeadlineMs;
    const glue = this.#installGlue();
    this.#glue = glue;

    const evaluated = ctx.evalCode(this.code, `${name}.js`, { type: "global" });
    if (evaluated.error) {
      const error = this.#describe(evaluated.error);
      evaluated.error.dispose();
      return { result: { ok: false, name, error: `${prefix}: ${loadErrorText(error)}` }, logs: this.#takeLogs() };
    }
    evaluated.value.dispose();

    const initResult = ctx.callFunction(glue.init, ctx.undefined);
    if (initResult.error) {
      const error = this.#describe(initResult.error);
      initResult.error.dispose();
      return { result: { ok: false, name, error: `${prefix}: reading the default export failed: ${loadErrorText(error)}` }, logs: this.#takeLogs() };
    }
    const init = JSON.parse(ctx.getString(initResult.value)) as GlueInit;
    initResult.value.dispose();
    const logs = this.#takeLogs();
    if (!init.ok) return { result: { ok: false, name, error: `${prefix}: ${init.error}` }, logs };
    const result: LoadResult = { ok: true, name, ...(init.match ? { match: init.match } : {}), ...(init.grouping ? { grouping: init.grouping } : {}), hasMatchFunction: init.fn };
    return { vm: this, result, logs };
  }

  #installGlue(): GlueFunctions {
    const ctx = this.#ctx;
    const hostFormatTime = ctx.newFunction("formatTime", (isoHandle, zoneHandle, styleHandle) => {
      const started = Date.now();
      this.#hostFormatCalls++;
      const iso = ctx.getString(isoHandle);
      if (iso.length > MAX_TIME_ARG) throw new TypeError(`formatTime expects an RFC 3339 time, got ${iso.length} characters`);
      const text = formatTime(iso, ctx.getString(zoneHandle), ctx.getString(styleHandle) as TimeStyle);
      // Host time is not the handler's: the first use of a timezone loads ICU data (~20 ms).
      this.#deadline += Date.now() - started;
      return ctx.newString(text);
    });
    const setup = ctx.unwrapResult(ctx.evalCode(GLUE_SOURCE, "edge-alarm-glue.js", { type: "global" }));
    const args = [hostFormatTime, ctx.newString(this.name), ctx.newNumber(this.#limits.maxResultBytes), ctx.newNumber(MAX_LOG_LINES), ctx.newNumber(MAX_LOG_CHARS)];
    const api = ctx.unwrapResult(ctx.callFunction(setup, ctx.undefined, args));
    for (const h of args) h.dispose();
    setup.dispose();
    const glue: GlueFunctions = {
      init: ctx.getProp(api, "init"),
      configure: ctx.getProp(api, "configure"),
      call: ctx.getProp(api, "call"),
      takeLogs: ctx.getProp(api, "takeLogs"),
      describe: ctx.getProp(api, "describe"),
      ping: ctx.getProp(api, "ping"),
    };
    api.dispose();
    return glue;
  }

  /** How often the guest's formatTime fell back to the host (times outside the zone table). */
  get hostFormatCalls(): number {
    return this.#hostFormatCalls;
  }

  /** Run the handler on one event (a normalized KubeEvent as JSON). The guest's ctx.handler is this vm's name. */
  call(eventJson: string, callCtx: CallContext): VmCallResult {
    const started = performance.now();
    try {
      return this.#hardStop(() => this.#call(eventJson, callCtx, started));
    } catch (e) {
      // Terminated mid-call: nothing in this instance can be trusted, the owner rebuilds it.
      this.broken = true;
      const micros = Math.round((performance.now() - started) * 1000);
      if (e instanceof HardTimeout) return { ok: false, kind: "hard-timeout", message: `${e.message}; the handler's QuickJS instance was stopped and rebuilt`, logs: [], micros };
      return { ok: false, kind: "crashed", message: `QuickJS failed on the host side: ${errorText(e)}`, logs: [], micros };
    }
  }

  #call(eventJson: string, callCtx: CallContext, started: number): VmCallResult {
    const micros = () => Math.round((performance.now() - started) * 1000);
    const glue = this.#glue;
    if (!glue || this.broken) return { ok: false, kind: "crashed", message: `handler '${this.name}' is not usable`, logs: [], micros: 0 };
    const ctx = this.#ctx;
    try {
      // Building a zone table (first call per zone and year) is host work: before the deadline starts.
      const zone = zoneTableFor(callCtx.timezone, callCtx.now);
      this.#deadline = Date.now() + this.#limits.deadlineMs;
      if (callCtx.cluster !== this.#cluster || callCtx.timezone !== this.#timezone || zone !== this.#zone) this.#configure(glue, callCtx, zone);
      const event = ctx.newString(eventJson);
      const now = ctx.newString(callCtx.now);
      const result = ctx.callFunction(glue.call, ctx.undefined, event, now);
      event.dispose();
      now.dispose();
      if (result.error) return { ...this.#failed(result.error), micros: micros() };
      const envelope = ctx.getString(result.value);
      result.value.dispose();
      this.#afterCall();
      // The glue always returns a non-empty JSON string; an empty one means QuickJS could not
      // hand it over (JS_ToCString failed), which is not a state to continue from.
      if (!envelope) {
        this.broken = true;
        return { ok: false, kind: "crashed", message: "the handler's result could not be read from QuickJS", logs: [], micros: micros() };
      }
      return { ok: true, envelope, micros: micros() };
    } catch (e) {
      this.broken = true;
      const kind: FailureKind = e instanceof GuestHeapExhausted ? "oom" : "crashed";
      return { ok: false, kind, message: `QuickJS failed on the host side: ${errorText(e)}`, logs: [], micros: micros() };
    }
  }

  #configure(glue: GlueFunctions, callCtx: CallContext, zone: ZoneTable | null): void {
    const ctx = this.#ctx;
    const args = [ctx.newString(callCtx.cluster), ctx.newString(callCtx.timezone), ctx.newString(JSON.stringify(zone))];
    const result = ctx.callFunction(glue.configure, ctx.undefined, args);
    for (const h of args) h.dispose();
    ctx.unwrapResult(result).dispose();
    this.#cluster = callCtx.cluster;
    this.#timezone = callCtx.timezone;
    this.#zone = zone;
  }

  #failed(errorHandle: QuickJSHandle): Omit<Extract<VmCallResult, { ok: false }>, "micros"> {
    const error = this.#describe(errorHandle);
    errorHandle.dispose();
    if (!error) {
      this.broken = true;
      const kind: FailureKind = this.#q.nearMaximum() ? "oom" : "crashed";
      return { ok: false, kind, message: "the handler failed and QuickJS could not describe the exception", logs: [] };
    }
    const kind = classify(error);
    const logs = kind === "oom" ? [] : this.#takeLogs();
    if (kind === "oom") this.broken = true;
    else if (kind === "stack" && !this.#usable()) this.broken = true;
    if (!this.broken) this.#afterCall();
    const message = kind === "timeout" ? `interrupted after the ${this.#limits.deadlineMs} ms deadline` : `${error.name}: ${error.message}`;
    const stack = shortStack(error.stack);
    return stack ? { ok: false, kind, message, stack, logs } : { ok: false, kind, message, logs };
  }

  /** Drain promise jobs the handler queued (they would pile up otherwise) and check memory headroom. */
  #afterCall(): void {
    if (this.#rt.hasPendingJob()) {
      this.#deadline = Date.now() + this.#limits.deadlineMs;
      this.#rt.executePendingJobs().dispose();
    }
    if (this.#q.isNearlyFull()) this.broken = true;
  }

  #describe(errorHandle: QuickJSHandle): GlueError | undefined {
    const glue = this.#glue;
    if (!glue) return undefined;
    const ctx = this.#ctx;
    this.#deadline = Date.now() + this.#limits.deadlineMs;
    const result = ctx.callFunction(glue.describe, ctx.undefined, errorHandle);
    if (result.error) {
      result.error.dispose();
      return undefined;
    }
    const text = ctx.getString(result.value);
    result.value.dispose();
    return text ? (JSON.parse(text) as GlueError) : undefined;
  }

  #takeLogs(): GuestLog[] {
    const glue = this.#glue;
    if (!glue) return [];
    const ctx = this.#ctx;
    this.#deadline = Date.now() + this.#limits.deadlineMs;
    const result = ctx.callFunction(glue.takeLogs, ctx.undefined);
    if (result.error) {
      result.error.dispose();
      return [];
    }
    const text = ctx.getString(result.value);
    result.value.dispose();
    if (!text) return [];
    const { l, d } = JSON.parse(text) as { l: unknown; d: unknown };
    return decodeLogs(l, d);
  }

  /** After a stack overflow QuickJS normally recovers; check before reusing the context. */
  #usable(): boolean {
    const glue = this.#glue;
    if (!glue) return false;
    const ctx = this.#ctx;
    this.#deadline = Date.now() + this.#limits.deadlineMs;
    const result = ctx.callFunction(glue.ping, ctx.undefined);
    if (result.error) {
      result.error.dispose();
      return false;
    }
    const ok = ctx.getNumber(result.value) === 1;
    result.value.dispose();
    return ok;
  }
}

/** A stack overflow's trace repeats one frame hundreds of times; keep the top of it. */
function shortStack(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const lines = stack.split("\n").filter((l) => l.trim() !== "");
  if (lines.length <= MAX_STACK_LINES) return lines.join("\n");
  return [...lines.slice(0, MAX_STACK_LINES), `    ... ${lines.length - MAX_STACK_LINES} more frames`].join("\n");
}

/** "SyntaxError: unexpected token in expression: ')' (at x.js:3:7)" */
function loadErrorText(error: GlueError | undefined): string {
  if (!error) return "the bundle failed and QuickJS could not describe the exception";
  const frame = error.stack?.split("\n").find((l) => l.trim().startsWith("at "));
  return `${error.name}: ${error.message}${frame ? ` (${frame.trim()})` : ""}`;
}
