/**
 * Opt-in memory sampling for diagnosing where memory goes (EDGE_ALARM_DEBUG_MEMORY_MS=<interval>):
 * logs the main thread's V8 heap, external and ArrayBuffer memory next to the process's RssAnon,
 * so anonymous memory outside the main heap (touched wasm pages, buffers, malloc, TLS, a sandbox
 * worker) shows as the rest.
 */
import { readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";

const MIB = 1024 * 1024;
const mib = (n: number) => Math.round((n / MIB) * 10) / 10;

function rssAnonBytes(): number | undefined {
  try {
    const m = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m?.[1] ? Number(m[1]) * 1024 : undefined;
  } catch (err) {
    // Not Linux: the V8 figures are still useful on their own.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Live worker threads whose heaps the sampler reports (the sandbox registers its worker). */
const workers = new Set<Worker>();

export function trackWorkerMemory(worker: Worker): void {
  workers.add(worker);
  worker.once("exit", () => workers.delete(worker));
}

async function workerHeaps(): Promise<{ workerHeapTotal: number; workerHeapUsed: number; workerExternal: number }> {
  let total = 0;
  let used = 0;
  let external = 0;
  for (const w of workers) {
    try {
      const h = await w.getHeapStatistics();
      total += h.total_heap_size;
      used += h.used_heap_size;
      external += h.external_memory;
    } catch (err) {
      // A worker that is exiting cannot answer; its memory is on its way out anyway.
      if ((err as NodeJS.ErrnoException).code !== "ERR_WORKER_NOT_RUNNING") throw err;
    }
  }
  return { workerHeapTotal: mib(total), workerHeapUsed: mib(used), workerExternal: mib(external) };
}

/** Starts sampling when `intervalMs` is a positive number; returns a stop function. */
export function startMemoryDebug(intervalMs: string | undefined, logger: Logger): () => void {
  const every = Number(intervalMs);
  if (!intervalMs || !Number.isFinite(every) || every <= 0) return () => undefined;
  const timer = setInterval(async () => {
    const w = await workerHeaps().catch((err: unknown) => {
      logger.warn({ err }, "could not read the worker heaps");
      return undefined;
    });
    const u = process.memoryUsage();
    const h = getHeapStatistics();
    const anon = rssAnonBytes();
    logger.info({
      rss: mib(u.rss), anon: anon === undefined ? null : mib(anon), heapUsed: mib(u.heapUsed), heapTotal: mib(u.heapTotal),
      external: mib(u.external), arrayBuffers: mib(u.arrayBuffers), mallocedMemory: mib(h.malloced_memory),
      // Not minus `external`: it counts the handlers' wasm memories at their reserved size, of which few pages are touched.
      outsideMainHeap: anon === undefined ? null : mib(anon - u.heapTotal), ...w,
    }, "memory sample");
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
