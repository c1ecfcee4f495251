/**
 * @module An exclusive lock file between processes on one machine (vitest's global setup and
 * `npm run testenv` may both want to build the binaries at the same time).
 */
import { open, readFile, stat, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { isProcessAlive } from "./pid-alive.ts";

export type FileLock = { release(): Promise<void> };

async function ownerPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function isOlderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/**
 * Creates `path` exclusively, holding the current pid. While another live process holds it, waits,
 * calling `onWait(ownerPid)` once. A lock left by a dead process (killed build) is taken over.
 */
export async function acquireFileLock(
  path: string,
  onWait: (owner: number | undefined) => void = () => {},
): Promise<FileLock> {
  let waitingReported = false;
  for (;;) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        release: async () => {
          await unlink(path).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== "ENOENT") throw error;
          });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = await ownerPid(path);
    // An empty file can be a lock being written right now; it is stale only once it is old.
    const stale = owner === undefined ? await isOlderThan(path, 10_000) : !isProcessAlive(owner);
    if (stale) {
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
      continue;
    }
    if (!waitingReported) {
      onWait(owner);
      waitingReported = true;
    }
    await sleep(1000);
  }
}
