/**
 * Messages between the Sandbox and the handlers' host (the QuickJS worker, or the inline host on
 * the same thread). The Sandbox sends one request at a time; the host answers each with a reply
 * of the same id.
 */
import type { VmLimits } from "./options.ts";
import type { WasmModule } from "./wasm-file.ts";
import type { CallContext, FailureKind, GuestLog, LoadResult } from "./types.ts";

export interface WorkerInit {
  wasm: WasmModule;
  /** Which handler the worker runs and since when; see progressViews. */
  progress: SharedArrayBuffer;
  limits: VmLimits;
}

export const PROGRESS_BYTES = 16;

/**
 * The worker's progress, shared with the host's watchdog: `startedAt[0]` is Date.now() when the
 * current handler (or load) started, `index[0]` its position in the request, -1 when idle. The
 * worker writes both itself, so a host whose event loop was busy for a while still measures the
 * handler's real running time.
 */
export function progressViews(shared: SharedArrayBuffer): { startedAt: BigInt64Array; index: Int32Array } {
  return { startedAt: new BigInt64Array(shared, 0, 1), index: new Int32Array(shared, 8, 1) };
}

export type Request =
  | { op: "load"; id: number; name: string; code: string }
  | { op: "unload"; id: number; name: string }
  | { op: "call"; id: number; names: string[]; event: string; ctx: CallContext };

/** A request as the Sandbox writes it; the WorkerHost adds the id. */
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

/** A handler call as the worker reports it; the envelope is parsed and validated by the host. */
export type WireOutcome = (
  | { ok: true; envelope: string; micros: number }
  | { ok: false; kind: FailureKind; message: string; stack?: string; logs: GuestLog[]; micros: number }
) & {
  /** The handler's module was found unusable after this call and rebuilt. */
  rebuilt?: boolean;
  /** Rebuilding failed; the handler is no longer loaded in the worker. */
  rebuildError?: string;
};

export type Reply =
  | { op: "ready" }
  | { op: "load"; id: number; result: LoadResult; logs: GuestLog[] }
  | { op: "unload"; id: number }
  | { op: "call"; id: number; outcomes: WireOutcome[] };

/** The worker died while serving a request. `index` is the handler it was running (-1: none). */
export interface Death {
  dead: true;
  reason: "hard-timeout" | "crashed";
  index: number;
  message: string;
}

/** Where the handlers run: a worker thread (WorkerHost) or the dispatcher's own thread (InlineHost). */
export interface SandboxHost {
  readonly alive: boolean;
  /** Serve one request; resolves with the reply, or with a Death when the host had to go. */
  request<R extends Reply>(req: RequestBody): Promise<R | Death>;
  terminate(): Promise<void>;
}
