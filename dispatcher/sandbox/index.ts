/**
 * @module QuickJS sandbox for handler bundles: one QuickJS instance (own capped
 * WebAssembly.Memory) per handler, a per-call deadline, plus a hard stop: on the dispatcher's
 * thread a `vm` watchdog, or in "worker" isolation a worker thread that is terminated and
 * recreated. Failures come back as data (`CallOutcome`), never as exceptions.
 */
export { QUARANTINE_AFTER, Sandbox } from "./sandbox.ts";
export { validateBundle } from "./validate-bundle.ts";
export { HANDLER_GLOBAL } from "./glue.ts";
export { DEFAULTS as SANDBOX_DEFAULTS } from "./options.ts";
export { BUNDLED_WORKER_FILE, WORKER_URL } from "./worker-host.ts";
export { BUNDLED_WASM_FILE } from "./wasm-file.ts";
export type { CallContext, CallOutcome, FailureKind, GroupingDeclaration, GuestLog, GuestLogLevel, HandlerStats, LoadResult, SandboxIsolation, SandboxOptions } from "./types.ts";
