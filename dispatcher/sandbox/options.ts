/**
 * Sandbox defaults and the clamping that keeps limits inside what QuickJS 0.32 can enforce
 * (see shared docs "sandbox-and-client" §2.3: the stack cap must stay <= 64 KiB and the memory
 * cap is a WebAssembly.Memory maximum of at least 256 pages).
 */
import type { SandboxIsolation, SandboxOptions } from "./types.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
export const WASM_PAGE_BYTES = 64 * KiB;
/** The QuickJS wasm module declares 256 initial pages; a smaller memory fails to link. */
export const MIN_MEMORY_PAGES = 256;
export const MAX_STACK_BYTES = 64 * KiB;

export const DEFAULTS = Object.freeze({
  memoryBytes: 24 * MiB,
  stackBytes: MAX_STACK_BYTES,
  deadlineMs: 50,
  hardTimeoutMs: 1000,
  maxResultBytes: 1 * MiB,
});

/** Per-call console bounds. */
export const MAX_LOG_LINES = 20;
export const MAX_LOG_CHARS = 1024;

/** Limits as the worker applies them to every handler. */
export interface VmLimits {
  memoryPages: number;
  stackBytes: number;
  deadlineMs: number;
  /** Evaluating a bundle and validating its export may take longer than one call. */
  loadDeadlineMs: number;
  maxResultBytes: number;
}

export interface ResolvedOptions {
  limits: VmLimits;
  hardTimeoutMs: number;
  isolation: SandboxIsolation;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`sandbox option ${what} must be a positive number, got ${value}`);
  return value;
}

export function resolveOptions(opts: SandboxOptions): ResolvedOptions {
  const memoryBytes = positive(opts.memoryBytes, DEFAULTS.memoryBytes, "memoryBytes");
  const stackBytes = Math.min(positive(opts.stackBytes, DEFAULTS.stackBytes, "stackBytes"), MAX_STACK_BYTES);
  const deadlineMs = positive(opts.deadlineMs, DEFAULTS.deadlineMs, "deadlineMs");
  const hardTimeoutMs = positive(opts.hardTimeoutMs, DEFAULTS.hardTimeoutMs, "hardTimeoutMs");
  const maxResultBytes = positive(opts.maxResultBytes, DEFAULTS.maxResultBytes, "maxResultBytes");
  const isolation = opts.isolation ?? "thread";
  if (isolation !== "thread" && isolation !== "worker") throw new RangeError(`sandbox option isolation must be "thread" or "worker", got ${String(isolation)}`);
  return {
    hardTimeoutMs,
    isolation,
    limits: {
      memoryPages: Math.max(MIN_MEMORY_PAGES, Math.ceil(memoryBytes / WASM_PAGE_BYTES)),
      stackBytes: Math.floor(stackBytes),
      deadlineMs,
      // A cold bundle evaluation takes ~20 ms; keep it under the watchdog so a slow top level is
      // interrupted cleanly instead of costing a worker restart.
      loadDeadlineMs: Math.min(Math.max(deadlineMs * 10, 500), hardTimeoutMs / 2),
      maxResultBytes: Math.floor(maxResultBytes),
    },
  };
}
