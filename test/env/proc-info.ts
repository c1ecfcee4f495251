/** @module Test helpers reading /proc: which processes a pid has started, and whether one still runs. */
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";

/** Child pids of `pid` (all its threads) with their command names. */
export async function childrenOf(pid: number): Promise<Map<number, string>> {
  const children = new Map<number, string>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const list = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
    for (const child of list ? list.split(" ").map(Number) : []) {
      children.set(child, readFileSync(`/proc/${child}/comm`, "utf8").trim());
    }
  }
  return children;
}

/** False once the process has exited, even while it is an unreaped zombie. */
export function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
