/**
 * Public types of the QuickJS sandbox: options, load and call results, counters.
 */
import type { Alarm, MatchSpec } from "../../sdk/index.ts";
import type { Logger } from "../log.ts";

/**
 * Where handlers run. Both stop a handler stuck in a builtin at `hardTimeoutMs`.
 * - "thread": on the dispatcher's own thread, guest code under a `vm` watchdog that terminates it;
 *   a stuck handler holds the event loop for up to `hardTimeoutMs`. No extra memory.
 * - "worker": in a worker thread that is terminated and recreated; ~10 MiB more anonymous memory.
 */
export type SandboxIsolation = "thread" | "worker";

export interface SandboxOptions {
  /** @default "thread" */
  isolation?: SandboxIsolation;
  /**
   * Hard cap on each handler's WebAssembly memory (its whole QuickJS heap), in bytes.
   * Rounded up to 64 KiB pages; at least 16 MiB because the QuickJS module declares 256
   * initial pages. @default 24 MiB
   */
  memoryBytes?: number;
  /** QuickJS stack limit in bytes, clamped to at most 64 KiB (larger values let deep recursion overflow V8's own stack and corrupt the runtime). @default 64 KiB */
  stackBytes?: number;
  /** Per-call deadline enforced by QuickJS's interrupt handler. @default 50 */
  deadlineMs?: number;
  /**
   * A handler (or a bundle's top level) still running after this time is terminated: a builtin
   * such as `Array.prototype.join` never polls the interrupt handler. Its QuickJS instance (or,
   * in "worker" isolation, the whole worker) is recreated. @default 1000
   */
  hardTimeoutMs?: number;
  /** A handler result whose JSON exceeds this is rejected as "invalid-result". @default 1 MiB */
  maxResultBytes?: number;
  /**
   * For sandbox events: worker restarts, handlers dropped, console lines printed while a bundle
   * loads. Call outcomes are not logged here; they carry their console lines (`logs`) and failure
   * so the caller logs them once, tagged with the handler and the event uid.
   */
  logger?: Logger;
  /** Location of QuickJS's `emscripten-module.wasm`; by default resolved from node_modules. Set it when the dispatcher is bundled. */
  wasmUrl?: URL;
}

export type FailureKind =
  /** The handler threw. */
  | "throw"
  /** The per-call deadline interrupted it; its context is kept. */
  | "timeout"
  /** Still running after hardTimeoutMs: terminated, and its instance (or the worker) recreated. */
  | "hard-timeout"
  /** The handler's WebAssembly memory is exhausted; its module was rebuilt. */
  | "oom"
  /** QuickJS stack overflow (deep recursion, deeply nested JSON). */
  | "stack"
  /** handle() returned something that is not null, an Alarm or an Alarm[]. */
  | "invalid-result"
  /** A host-side exception from QuickJS, or the worker died; the handler's module was rebuilt. */
  | "crashed"
  /** Not run: the handler hit the hard timeout on its last calls in a row; loading it again clears this. */
  | "quarantined"
  /** No handler of that name is loaded. */
  | "not-loaded";

/**
 * A handler's `grouping` declaration as the bundle wrote it: checked for shape only (a plain
 * object of these keys holding strings); the dispatcher parses the durations
 * (`parseHandlerGrouping` in dispatcher/grouping/settings.ts).
 */
export type GroupingDeclaration = Partial<Record<"wait" | "interval" | "repeat", string>>;

export type LoadResult =
  | { ok: true; name: string; match?: MatchSpec; grouping?: GroupingDeclaration; hasMatchFunction: boolean }
  | { ok: false; name: string; error: string };

export type GuestLogLevel = "log" | "info" | "warn" | "error" | "debug";

/** One `console.*` line from a handler (bounded: 20 lines of 1 KiB per call). */
export interface GuestLog {
  level: GuestLogLevel;
  message: string;
}

export type CallOutcome =
  | { ok: true; alarms: Alarm[]; logs: GuestLog[]; micros: number }
  | { ok: false; kind: FailureKind; message: string; stack?: string; logs: GuestLog[]; micros: number };

export interface HandlerStats {
  calls: number;
  ok: number;
  /** Failed calls by kind. */
  failures: Partial<Record<FailureKind, number>>;
  /** Times the handler's QuickJS module was thrown away and rebuilt (oom, crash, worker restart). */
  rebuilds: number;
  /** Sum of in-worker call time, for an average. */
  totalMicros: number;
}

/** The ContextData fields that are the same for every handler of one event. */
export interface CallContext {
  cluster: string;
  timezone: string;
  now: string;
}
