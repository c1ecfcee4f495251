/**
 * @module `node test/env/build-binaries.ts`: builds (or finds) kube-apiserver and etcd before the
 * tests run, so CI shows the slow cold build as its own step, then reports time and sizes.
 */
import { execFileSync } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ensureBinaries } from "./binaries.ts";
import { formatBytes, formatDuration, stderrLog } from "./log.ts";

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(dir, entry.name))).size;
  }
  return total;
}

/** Size of Go's module and build caches, for the record; `du` is far quicker than walking in JS. */
function goCacheSizes(): string {
  try {
    const [modCache, buildCache] = execFileSync("go", ["env", "GOMODCACHE", "GOCACHE"], { encoding: "utf8" }).trim().split("\n");
    const du = (path: string | undefined): string =>
      path ? `${execFileSync("du", ["-sh", path], { encoding: "utf8" }).split("\t")[0]} in ${path}` : "unknown";
    return `GOMODCACHE ${du(modCache)}, GOCACHE ${du(buildCache)}`;
  } catch (error) {
    return `Go cache sizes unavailable (${(error as Error).message.split("\n")[0]})`;
  }
}

const started = Date.now();
const dir = await ensureBinaries(stderrLog);
console.log(`test/env binaries: ${dir}`);
console.log(`  ready in ${formatDuration(Date.now() - started)}, ${formatBytes(await dirSize(dir))} on disk`);
console.log(`  ${goCacheSizes()}`);
