/**
 * @module Where `edge-alarm dev` gets events: the current kube context when its API server
 * answers, otherwise a recorded stream replayed in a loop on a compressed clock. Each loop gives
 * the events fresh uids and moves their times to now, so every loop alarms again and cards show
 * current times.
 */
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { kubeconfigClient, type KubeClient } from "../../dispatcher/kube/client.ts";
import { eventPaths, ListWatch } from "../../dispatcher/kube/list-watch.ts";
import type { Logger } from "../../dispatcher/log.ts";
import { readEvents } from "../../dispatcher/replay/read-events.ts";
import { normalizeEvent, type KubeEvent } from "../../sdk/index.ts";
import { UserError } from "../errors.ts";

export type WatchType = "ADDED" | "MODIFIED" | "DELETED";

export interface EventSink {
  (event: unknown, type: WatchType): Promise<void>;
}

export interface RunningSource {
  /** What the status line shows, e.g. `kube context k3s-home (https://10.0.0.2:6443)`. */
  description: string;
  stop(): Promise<void>;
}

/** The kubeconfig to try: --kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, home = homedir()): string | undefined {
  if (flag) return flag;
  const fromEnv = (env.KUBECONFIG ?? "").split(path.delimiter).find((f) => f && existsSync(f));
  if (fromEnv) return fromEnv;
  const standard = path.join(home, ".kube", "config");
  return existsSync(standard) ? standard : undefined;
}

function currentContext(file: string): string {
  try {
    const doc = parseYaml(readFileSync(file, "utf8")) as { "current-context"?: unknown } | null;
    return typeof doc?.["current-context"] === "string" ? doc["current-context"] : "(none)";
  } catch {
    return "(unreadable)"; // kubeconfigClient reports the real problem
  }
}

/** A client for the kubeconfig's current context if its API server answers a list of events. */
export async function reachableCluster(file: string, timeoutMs = 3_000): Promise<{ client: KubeClient; description: string } | { reason: string }> {
  let client: KubeClient;
  try {
    client = await kubeconfigClient(file);
  } catch (err) {
    return { reason: `kubeconfig ${file}: ${(err as Error).message}` };
  }
  try {
    const res = await client.send("GET", "/api/v1/events?limit=1", { timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    if (res.status !== 200) throw new Error(`listing events answered HTTP ${res.status}`);
  } catch (err) {
    await client.close();
    return { reason: `${client.server} (context ${currentContext(file)}): ${(err as Error).message}` };
  }
  return { client, description: `kube context ${currentContext(file)} (${client.server})` };
}

/** Watch every namespace's Events; list items older than `maxAgeMs` are not handled (a first list holds an hour). */
export function watchCluster(client: KubeClient, description: string, logger: Logger, sink: EventSink, maxAgeMs = 10 * 60_000): RunningSource {
  const watch = new ListWatch({
    client,
    what: "events",
    paths: eventPaths([]),
    logger,
    onEvent: async (n) => {
      if (n.fromList && Date.now() - Date.parse(normalizeEvent(n.object).lastTimestamp) > maxAgeMs) return;
      await sink(n.object, n.type);
    },
  });
  watch.start();
  return {
    description,
    async stop() {
      await watch.stop();
      await client.close();
    },
  };
}

const TIME_FIELDS = ["firstTimestamp", "lastTimestamp"] as const;

/** The event as if it happened at `nowMs`: all its times moved by the same amount, uids made unique by `suffix`. */
export function relive(event: KubeEvent, nowMs: number, suffix: string): KubeEvent {
  const shift = nowMs - Date.parse(event.lastTimestamp);
  const move = (iso: string) => (Number.isNaN(Date.parse(iso)) ? iso : new Date(Date.parse(iso) + shift).toISOString().replace(".000Z", "Z"));
  const copy = structuredClone(event);
  for (const f of TIME_FIELDS) copy[f] = move(copy[f]);
  copy.metadata.creationTimestamp = move(copy.metadata.creationTimestamp);
  if (copy.eventTime) copy.eventTime = move(copy.eventTime);
  if (copy.series) copy.series.lastObservedTime = move(copy.series.lastObservedTime);
  copy.metadata.uid = `${copy.metadata.uid}-${suffix}`;
  copy.metadata.name = `${copy.metadata.name}-${suffix}`;
  return copy;
}

export interface ReplayLoopOptions {
  file: string;
  /** Recorded time runs this many times faster. */
  speed: number;
  /** Longest real pause between two events, in ms, whatever the recording says. */
  maxGapMs?: number;
  logger: Logger;
}

/** Replay `file` forever (until stopped), in recorded order, compressed by `speed`. */
export async function replayLoop(opts: ReplayLoopOptions, sink: EventSink): Promise<RunningSource> {
  let text: string;
  try {
    text = await readFile(opts.file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const read = readEvents(text, opts.file);
  for (const p of read.problems) opts.logger.warn(p);
  const events = read.items
    .filter((i) => i.type !== "DELETED")
    .map((i) => normalizeEvent(i.object))
    .sort((a, b) => Date.parse(a.lastTimestamp) - Date.parse(b.lastTimestamp));
  if (events.length === 0) throw new UserError(`${opts.file} holds no events to replay`);
  const maxGap = opts.maxGapMs ?? 5_000;
  const stop = new AbortController();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      stop.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
  const run = (async () => {
    for (let loop = 1; !stop.signal.aborted; loop++) {
      let previous = Date.parse(events[0]?.lastTimestamp ?? "");
      for (const event of events) {
        const at = Date.parse(event.lastTimestamp);
        const gap = Number.isNaN(at) || Number.isNaN(previous) ? 0 : (at - previous) / opts.speed;
        previous = at;
        await sleep(Math.min(maxGap, Math.max(0, gap)));
        if (stop.signal.aborted) return;
        try {
          await sink(relive(event, Date.now(), `dev${loop}`), "ADDED");
        } catch (err) {
          opts.logger.error({ err }, "handling a replayed event failed");
        }
      }
      await sleep(Math.min(maxGap, 1_000));
    }
  })();
  return {
    description: `replaying ${path.basename(opts.file)} in a loop (${events.length} events, ${opts.speed}× speed)`,
    async stop() {
      stop.abort();
      await run;
    },
  };
}
