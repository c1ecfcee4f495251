/**
 * @module Child processes (etcd, kube-apiserver) that never outlive the node process that started
 * them: killed on exit and on SIGINT/SIGTERM/SIGHUP, and, for a parent killed with SIGKILL, by a
 * tiny per-child watchdog shell that kills the child when the parent's pipe to it closes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

export type ManagedProcess = {
  readonly name: string;
  readonly pid: number;
  /** Settles with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
};

type Tracked = { child: ChildProcess; watchdog: ChildProcess };
const live = new Set<Tracked>();
let hooksInstalled = false;

function killNow(tracked: Tracked): void {
  // Watchdog first: once the child is gone its pid could be reused, and the watchdog would kill that.
  tracked.watchdog.kill("SIGKILL");
  tracked.child.kill("SIGKILL");
}

function killAllNow(): void {
  for (const tracked of live) killNow(tracked);
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAllNow();
      // Adding a listener disables Node's default "exit on signal". If nobody else (vitest, main.ts)
      // handles this signal, restore the default by re-raising it without our listener.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Watches our end of a pipe: `read` returns at EOF, i.e. when this node process has died. */
function spawnWatchdog(pid: number): ChildProcess {
  const watchdog = spawn("sh", ["-c", 'read _ ; kill -9 "$1" 2>/dev/null', "testenv-watchdog", String(pid)], {
    stdio: ["pipe", "ignore", "ignore"],
    // Own process group: a terminal's Ctrl-C must not kill the watchdog before it can do its job.
    detached: true,
  });
  watchdog.unref();
  // The pipe must stay open without keeping node's event loop alive.
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

/** Starts `bin args`, appending stdout and stderr to `logPath`. */
export function startManagedProcess(name: string, bin: string, args: string[], logPath: string): ManagedProcess {
  installExitHooks();
  const logFd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ["ignore", logFd, logFd] });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(logFd);
  }
  if (child.pid === undefined) {
    // spawn reports ENOENT/EACCES through a later "error" event; the missing pid tells us now.
    // The event repeats what the throw below says; it only needs a listener so it is not fatal.
    child.once("error", () => {});
    throw new Error(`could not start ${name}: ${bin} is missing or not executable`);
  }
  const tracked: Tracked = { child, watchdog: spawnWatchdog(child.pid) };
  live.add(tracked);
  let exited = false;
  const exitedPromise = once(child, "exit").then(([code]) => {
    exited = true;
    live.delete(tracked);
    tracked.watchdog.kill("SIGKILL");
    return code as number | null;
  });
  return {
    name,
    pid: child.pid,
    exited: exitedPromise,
    hasExited: () => exited,
    async stop(graceMs = 5_000) {
      if (exited) return;
      tracked.watchdog.kill("SIGKILL");
      child.kill("SIGTERM");
      const done = await Promise.race([exitedPromise.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        child.kill("SIGKILL");
        await exitedPromise;
      }
    },
  };
}
