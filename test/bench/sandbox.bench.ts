/**
 * Sandbox speed and memory: the default handler (bundled as the build does) called through the
 * QuickJS sandbox, against the same handler as a plain V8 function. Prints and returns:
 * µs per event (plain, plain with JSON in/out, sandbox end to end, sandbox in-worker, batched),
 * the ratio to plain, and RSS / RssAnon before the sandbox, after warm-up and after 100k events.
 */
import { readFileSync } from "node:fs";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { createContext } from "../../dispatcher/time-format.ts";
import defaultHandler from "../../handlers/default.ts";
import { bundleHandler, CTX, warningEvent } from "../dispatcher/sandbox/bundles.ts";

const TOTAL_EVENTS = 100_000;
const WARM_UP = 5_000;
const TIMED = 20_000;
const BATCH = 4;

function memory(): { rss: number; anon: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") / 1024, anon: kib("RssAnon") / 1024 };
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function timePlain(n: number, run: () => unknown): number {
  const started = performance.now();
  for (let i = 0; i < n; i++) run();
  return ((performance.now() - started) * 1000) / n;
}

export async function benchSandbox(): Promise<Record<string, number | string>> {
  const event = warningEvent();
  const eventJson = JSON.stringify(event);
  const code = await bundleHandler("handlers/default.ts");
  // As in the dispatcher, "now" is close to the event's time (formatTime then runs in the guest).
  const callCtx = { ...CTX, now: event.lastTimestamp };
  const ctx = createContext({ ...callCtx, handler: "default" });

  // Plain V8: the handler on the event object; and with the JSON in/out the sandbox pays for.
  timePlain(WARM_UP, () => defaultHandler.handle(event, ctx));
  const plain = timePlain(TIMED, () => defaultHandler.handle(event, ctx));
  const plainJson = timePlain(TIMED, () => JSON.stringify(defaultHandler.handle(JSON.parse(eventJson) as typeof event, ctx)));

  const before = memory();
  const sandbox = await Sandbox.create();
  try {
    const loaded = await sandbox.load("default", code);
    if (!loaded.ok) throw new Error(loaded.error);
    const afterCreate = memory();

    let events = 0;
    let inWorkerMicros = 0;
    const callTimed = async (n: number): Promise<number> => {
      inWorkerMicros = 0;
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const outcome = await sandbox.call("default", eventJson, callCtx);
        if (!outcome.ok) throw new Error(`${outcome.kind}: ${outcome.message}`);
        inWorkerMicros += outcome.micros;
      }
      events += n;
      return ((performance.now() - started) * 1000) / n;
    };

    await callTimed(WARM_UP);
    const afterWarmUp = memory();
    const endToEnd = await callTimed(TIMED);
    const inWorker = inWorkerMicros / TIMED;

    // Several handlers for one event share one worker round trip.
    for (let i = 1; i < BATCH; i++) await sandbox.load(`default-${i}`, code);
    const names = ["default", ...Array.from({ length: BATCH - 1 }, (_, i) => `default-${i + 1}`)];
    const batchEvents = TIMED / BATCH;
    const batchStarted = performance.now();
    for (let i = 0; i < batchEvents; i++) await sandbox.callMany(names, eventJson, callCtx);
    const batchedPerHandler = ((performance.now() - batchStarted) * 1000) / (batchEvents * BATCH);
    events += batchEvents;
    for (let i = 1; i < BATCH; i++) await sandbox.unload(`default-${i}`);

    await callTimed(TOTAL_EVENTS - events);
    const after100k = memory();
    const stats = sandbox.stats().default;

    const result: Record<string, number | string> = {
      "event bytes": eventJson.length,
      "plain µs/event": round(plain),
      "plain+JSON µs/event": round(plainJson),
      "sandbox end-to-end µs/event": round(endToEnd),
      "sandbox in-worker µs/event": round(inWorker),
      [`sandbox batched (${BATCH} handlers/event) µs/handler`]: round(batchedPerHandler),
      "ratio end-to-end / plain": round(endToEnd / plain),
      "ratio in-worker / plain": round(inWorker / plain),
      "ratio end-to-end / plain+JSON": round(endToEnd / plainJson),
      "RSS MiB before sandbox": round(before.rss),
      "RssAnon MiB before sandbox": round(before.anon),
      "RSS MiB after create+load": round(afterCreate.rss),
      "RssAnon MiB after create+load": round(afterCreate.anon),
      "RSS MiB after warm-up": round(afterWarmUp.rss),
      "RssAnon MiB after warm-up": round(afterWarmUp.anon),
      [`RSS MiB after ${TOTAL_EVENTS / 1000}k events`]: round(after100k.rss),
      [`RssAnon MiB after ${TOTAL_EVENTS / 1000}k events`]: round(after100k.anon),
      "sandbox calls failed": stats ? stats.calls - stats.ok : "n/a",
    };
    for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(44)} ${v}`);
    return result;
  } finally {
    await sandbox.close();
  }
}
