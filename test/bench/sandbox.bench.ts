/**
 * Sandbox speed and memory: the default handler (bundled as the build does) called through the
 * QuickJS sandbox, against the same handler as a plain V8 function. Prints and returns:
 * µs per event (plain, plain with JSON in/out, sandbox end to end, inside the sandbox, batched),
 * the ratios to plain, and RSS / RssAnon before the sandbox, after warm-up and after 100k
 * sandbox calls (the batched calls count as one event each), for each isolation mode, plus the
 * cost of the thread mode's hard stop on its own.
 */
import { readFileSync } from "node:fs";
import { hardStop } from "../../dispatcher/sandbox/hard-stop.ts";
import { Sandbox, type SandboxIsolation } from "../../dispatcher/sandbox/index.ts";
import { createContext } from "../../dispatcher/time-format.ts";
import defaultHandler from "../../handlers/default.ts";
import { bundleHandler, CTX, warningEvent } from "../dispatcher/sandbox/bundles.ts";

const TOTAL_EVENTS = 100_000;
const WARM_UP = 5_000;
/** Timings are the best of ROUNDS interleaved rounds: the CI machine is shared and noisy. */
const ROUNDS = 7;
const PER_ROUND = 2_000;
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

/** µs per call of a synchronous `run`, n times (no await: it would add a microtask per call). */
function timedSync(n: number, run: () => unknown): number {
  const started = performance.now();
  for (let i = 0; i < n; i++) run();
  return ((performance.now() - started) * 1000) / n;
}

/** µs per call of an async `run`, n times, one after the other. */
async function timed(n: number, run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await run();
  return ((performance.now() - started) * 1000) / n;
}

export async function benchSandbox(): Promise<Record<string, number | string>> {
  const stop = hardStop(1000);
  const guardMicros = Math.min(...Array.from({ length: ROUNDS }, () => timedSync(PER_ROUND, () => stop(() => 0))));
  console.log(`${"hard stop (vm watchdog) alone µs/run".padEnd(46)} ${round(guardMicros)}`);
  const result: Record<string, number | string> = { "hard stop µs/run": round(guardMicros) };
  for (const isolation of ["thread", "worker"] as const) Object.assign(result, await benchIsolation(isolation));
  return result;
}

async function benchIsolation(isolation: SandboxIsolation): Promise<Record<string, number | string>> {
  console.log(`\n### isolation: ${isolation}`);
  const event = warningEvent();
  const eventJson = JSON.stringify(event);
  const code = await bundleHandler("handlers/default.ts");
  // As in the dispatcher, "now" is close to the event's time (formatTime then runs in the guest).
  const callCtx = { ...CTX, now: event.lastTimestamp };
  const ctx = createContext({ ...callCtx, handler: "default" });
  const plainCall = () => defaultHandler.handle(event, ctx);
  const plainJsonCall = () => JSON.stringify(defaultHandler.handle(JSON.parse(eventJson) as typeof event, ctx));

  const before = memory();
  const sandbox = await Sandbox.create({ isolation });
  try {
    const loaded = await sandbox.load("default", code);
    if (!loaded.ok) throw new Error(loaded.error);
    for (let i = 1; i < BATCH; i++) await sandbox.load(`default-${i}`, code);
    const batch = ["default", ...Array.from({ length: BATCH - 1 }, (_, i) => `default-${i + 1}`)];
    const afterCreate = memory();

    let events = 0;
    let insideMicros = 0;
    const sandboxCall = async () => {
      const outcome = await sandbox.call("default", eventJson, callCtx);
      if (!outcome.ok) throw new Error(`${outcome.kind}: ${outcome.message}`);
      insideMicros += outcome.micros;
      events++;
    };
    const batchCall = async () => {
      await sandbox.callMany(batch, eventJson, callCtx);
      events++;
    };

    timedSync(WARM_UP, plainCall);
    await timed(WARM_UP, sandboxCall);
    const afterWarmUp = memory();

    const best = { plain: Infinity, plainJson: Infinity, endToEnd: Infinity, inside: Infinity, batched: Infinity };
    for (let r = 0; r < ROUNDS; r++) {
      best.plain = Math.min(best.plain, timedSync(PER_ROUND, plainCall));
      best.plainJson = Math.min(best.plainJson, timedSync(PER_ROUND, plainJsonCall));
      insideMicros = 0;
      best.endToEnd = Math.min(best.endToEnd, await timed(PER_ROUND, sandboxCall));
      best.inside = Math.min(best.inside, insideMicros / PER_ROUND);
      best.batched = Math.min(best.batched, (await timed(PER_ROUND / BATCH, batchCall)) / BATCH);
    }

    while (events < TOTAL_EVENTS) await sandboxCall();
    const after100k = memory();
    const stats = sandbox.stats().default;

    const result: Record<string, number | string> = {
      "event bytes": eventJson.length,
      "plain µs/event": round(best.plain),
      "plain+JSON µs/event": round(best.plainJson),
      "sandbox end-to-end µs/event": round(best.endToEnd),
      // Measured around the handler call where it runs (incl. the hard stop on the thread).
      "sandbox inside µs/event": round(best.inside),
      [`sandbox batched (${BATCH} handlers/event) µs/handler`]: round(best.batched),
      "ratio end-to-end / plain": round(best.endToEnd / best.plain),
      "ratio inside / plain": round(best.inside / best.plain),
      "ratio end-to-end / plain+JSON": round(best.endToEnd / best.plainJson),
      "RSS MiB before sandbox": round(before.rss),
      "RssAnon MiB before sandbox": round(before.anon),
      [`RSS MiB after create + ${BATCH} loads`]: round(afterCreate.rss),
      [`RssAnon MiB after create + ${BATCH} loads`]: round(afterCreate.anon),
      "RSS MiB after warm-up": round(afterWarmUp.rss),
      "RssAnon MiB after warm-up": round(afterWarmUp.anon),
      [`RSS MiB after ${TOTAL_EVENTS / 1000}k events`]: round(after100k.rss),
      [`RssAnon MiB after ${TOTAL_EVENTS / 1000}k events`]: round(after100k.anon),
      "sandbox calls failed": stats ? stats.calls - stats.ok : "n/a",
    };
    for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(46)} ${v}`);
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [`${isolation}: ${k}`, v]));
  } finally {
    await sandbox.close();
  }
}
