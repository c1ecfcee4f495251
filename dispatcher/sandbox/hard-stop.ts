/**
 * A hard time limit for synchronous code on the calling thread. QuickJS's interrupt handler is
 * not polled inside some native builtins (`new Array(1e9).join()` runs for ~45 s), so the
 * per-call deadline alone cannot stop them. `vm`'s `timeout` runs the code under a watchdog
 * thread that calls V8's TerminateExecution, which also stops WebAssembly (measured: both
 * `new Array(1e9) + ""` and `[].indexOf.call({ length: 2 ** 53 - 1 })` ended at the limit).
 *
 * What it costs: the watchdog thread is created for each run (~0.26 ms on a 2-core VM), against ~9 MiB
 * of anonymous memory for a worker thread that could be terminated instead. Terminated code does
 * not unwind normally (no catch, no finally), so whatever it was changing must be thrown away:
 * the caller drops the handler's whole QuickJS instance.
 */
import vm from "node:vm";

/** The code ran past the limit and was terminated. */
export class HardTimeout extends Error {
  readonly limitMs: number;
  constructor(limitMs: number) {
    super(`no answer within the ${limitMs} ms hard limit`);
    this.name = "HardTimeout";
    this.limitMs = limitMs;
  }
}

/** Runs `fn` synchronously; throws HardTimeout if it is still running after the limit. */
export type HardStop = <T>(fn: () => T) => T;

export function hardStop(limitMs: number): HardStop {
  // One context and one compiled script for every run: the script only calls back into this realm.
  const box: { fn: (() => unknown) | undefined } = { fn: undefined };
  const context = vm.createContext(box);
  const script = new vm.Script("fn()", { filename: "edge-alarm-hard-stop.js" });
  const timeout = Math.max(1, Math.round(limitMs));
  return <T>(fn: () => T): T => {
    box.fn = fn;
    try {
      return script.runInContext(context, { timeout }) as T;
    } catch (e) {
      if ((e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") throw new HardTimeout(limitMs);
      throw e;
    } finally {
      box.fn = undefined;
    }
  };
}
