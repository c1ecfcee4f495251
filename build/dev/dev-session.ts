/**
 * @module `edge-alarm dev`, composed: handlers bundled with source maps and loaded into one
 * sandbox, rebuilt when a file in DIR changes (a failed build keeps the previous handlers), events
 * from the cluster or a replayed recording through the dispatcher's pipeline, and every card,
 * handler error and build shown in the card inbox (and sent to Feishu when a webhook is set).
 * Alarms are shown as handlers return them: dev does not group them.
 */
import { watch, type FSWatcher } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../dispatcher/log.ts";
import { Pipeline, type Delivery, type HandlerHost, type LoadedHandler } from "../../dispatcher/pipeline/pipeline.ts";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { createFeishuSink } from "../../dispatcher/sinks/feishu.ts";
import { proxySettings } from "../../dispatcher/sinks/http-transport.ts";
import type { Sink } from "../../dispatcher/sinks/sink.ts";
import { normalizeEvent, type KubeEvent } from "../../sdk/index.ts";
import { isUserError } from "../errors.ts";
import { devBundles, type DevBundle } from "./dev-bundle.ts";
import { kubeconfigPath, reachableCluster, relive, replayLoop, watchCluster, type RunningSource, type WatchType } from "./event-source.ts";
import { explainSendResult } from "./feishu-codes.ts";
import { startInbox, type DeliveryNote, type GuestLogLine, type Inbox } from "./inbox-server.ts";
import { mapStack } from "./stack-map.ts";

export const SAMPLE_EVENTS = fileURLToPath(new URL("../samples/events.ndjson", import.meta.url));

export interface DevOptions {
  /** The handlers folder. */
  dir: string;
  /** Inbox port; 0 picks a free one. */
  port: number;
  cluster: string;
  timezone: string;
  logger: Logger;
  /** --kubeconfig; otherwise $KUBECONFIG, then ~/.kube/config. */
  kubeconfig?: string;
  /** Replay this file instead of watching a cluster (default when no cluster answers: the bundled samples). */
  replay?: string;
  /** Replay speed-up. */
  speed: number;
  /** Send cards to this Feishu bot as well. */
  webhook?: string;
  secret?: string;
  /** Rebuild on changes in `dir`. Default true. */
  watch?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface DevSession {
  readonly url: string;
  readonly inbox: Inbox;
  /** What events come from. */
  readonly source: string;
  /** Bundle and load the handlers again; false when the build failed. */
  rebuild(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Events handled again after a successful rebuild, so a save shows its effect at once. */
const RERUN_RECENT = 3;

export async function startDev(opts: DevOptions): Promise<DevSession> {
  const inbox = await startInbox({ port: opts.port });
  let sandbox: Sandbox | undefined;
  let sink: Sink | undefined;
  try {
    sandbox = await Sandbox.create({ logger: opts.logger.child({ component: "sandbox" }) });
    sink = opts.webhook
      ? createFeishuSink({ webhook: opts.webhook, ...(opts.secret ? { secret: opts.secret } : {}), logger: opts.logger.child({ component: "sink" }), proxy: proxySettings(opts.env ?? process.env) })
      : undefined;
    return await compose(opts, inbox, sandbox, sink);
  } catch (err) {
    // Nothing may keep the process alive after a failed start (the CLI then exits with the error).
    await sandbox?.close();
    await sink?.close();
    await inbox.close();
    throw err;
  }
}

async function compose(opts: DevOptions, inbox: Inbox, sandbox: Sandbox, sink: Sink | undefined): Promise<DevSession> {
  const log = opts.logger;

  let handlers: LoadedHandler[] = [];
  const running = new Map<string, DevBundle>();
  const counts = { events: 0, alarms: 0, errors: 0 };
  const recent: KubeEvent[] = [];
  let current: { event: KubeEvent | null; logs: GuestLogLine[] } = { event: null, logs: [] };
  let reruns = 0;

  const status = () => inbox.setStatus({ ...counts, handlers: handlers.map((h) => h.name) });

  const host: HandlerHost = {
    async call(name, eventJson, ctx) {
      const outcome = await sandbox.call(name, eventJson, ctx);
      const event = JSON.parse(eventJson) as KubeEvent;
      current = { event, logs: outcome.logs };
      for (const l of outcome.logs) log.info(`[${name}] console.${l.level}: ${l.message}`);
      if (!outcome.ok) {
        counts.errors++;
        const stack = outcome.stack ? mapStack(outcome.stack, running) : undefined;
        log.error(`handler ${name} failed (${outcome.kind}) on ${event.reason} ${event.involvedObject.name}: ${outcome.message}${stack ? `\n${stack}` : ""}`);
        inbox.add({ kind: "error", handler: name, failure: outcome.kind, message: outcome.message, ...(stack ? { stack } : {}), event, logs: outcome.logs });
        status();
      }
      return outcome;
    },
  };

  const deliver = async (d: Delivery) => {
    counts.alarms++;
    let delivery: DeliveryNote | undefined;
    if (sink) {
      const result = await sink.send(d.body, { handler: d.handler, eventUid: d.eventUid, fingerprint: d.fingerprint });
      const explained = explainSendResult(result, { signed: opts.secret !== undefined });
      delivery = { ok: result.ok, code: result.ok ? 0 : result.code, summary: explained.summary };
      (result.ok ? log.info.bind(log) : log.warn.bind(log))(`Feishu: ${explained.summary}${explained.advice.length ? `\n  ${explained.advice.join("\n  ")}` : ""}`);
    }
    const title = d.body.card.header?.title.content ?? "(no title)";
    const about = current.event ? ` (${current.event.reason} on ${current.event.involvedObject.name})` : "";
    log.info(`card from ${d.handler} → ${d.channel}: ${title}${about}`);
    inbox.add({
      kind: "card",
      handler: d.handler,
      channel: d.channel,
      card: d.body.card,
      bytes: d.bytes,
      truncated: d.truncated,
      event: current.event,
      logs: current.logs,
      ...(delivery ? { delivery } : {}),
    });
    status();
  };

  // Quiet: dev reports handler failures itself, with mapped stacks, and prints console lines.
  const pipeline = new Pipeline({
    host,
    handlers: () => handlers,
    cluster: opts.cluster,
    timezone: opts.timezone,
    logger: log.child({ component: "pipeline" }, { level: "fatal" }),
    deliver,
  });

  // One event at a time, whatever it comes from (watch, replay, a rerun after a save).
  let queue: Promise<void> = Promise.resolve();
  const handle = (raw: unknown, type: WatchType): Promise<void> => {
    const next = queue.then(async () => {
      if (type !== "DELETED") {
        counts.events++;
        recent.push(normalizeEvent(raw, new Date().toISOString()));
        if (recent.length > RERUN_RECENT) recent.shift();
      }
      await pipeline.process(raw, type, Date.now());
      status();
    });
    queue = next.catch((err: unknown) => log.error({ err }, "handling an event failed"));
    return queue;
  };

  const rebuild = async (): Promise<boolean> => {
    const started = performance.now();
    let bundles: DevBundle[];
    try {
      bundles = await devBundles(opts.dir);
    } catch (err) {
      if (!isUserError(err)) throw err;
      log.error(`build failed; the previous handlers keep running:\n${err.message}`);
      inbox.add({ kind: "build", ok: false, message: err.message });
      return false;
    }
    const failures: string[] = [];
    const next: LoadedHandler[] = [];
    for (const b of bundles) {
      const r = await sandbox.load(b.name, b.code);
      if (r.ok) {
        running.set(b.name, b);
        next.push({ name: b.name, ...(r.match ? { match: r.match } : {}) });
      } else {
        failures.push(r.error);
        const previous = handlers.find((h) => h.name === b.name);
        if (previous) next.push(previous);
      }
    }
    for (const h of handlers) {
      if (!bundles.some((b) => b.name === h.name)) {
        await sandbox.unload(h.name);
        running.delete(h.name);
      }
    }
    handlers = next;
    status();
    if (failures.length) {
      const message = failures.join("\n");
      log.error(`handlers rejected by the sandbox:\n${message}`);
      inbox.add({ kind: "build", ok: false, message });
      return false;
    }
    const ms = Math.round(performance.now() - started);
    log.info(`built ${bundles.map((b) => b.name).join(", ")} in ${ms} ms`);
    inbox.add({ kind: "build", ok: true, handlers: bundles.map((b) => b.name), ms });
    reruns++;
    for (const event of [...recent]) void handle(relive(event, Date.parse(event.lastTimestamp), `rerun${reruns}`), "ADDED");
    return true;
  };

  await rebuild();

  let watcher: FSWatcher | undefined;
  if (opts.watch !== false) {
    let timer: NodeJS.Timeout | undefined;
    // Editors save in bursts (write, rename, chmod): rebuild once they settle.
    watcher = watch(opts.dir, { recursive: true }, (_type, file) => {
      if (file && !String(file).endsWith(".ts")) return;
      clearTimeout(timer);
      timer = setTimeout(() => void rebuild().catch((err: unknown) => log.error({ err }, "rebuild failed")), 150);
    });
  }

  let source: RunningSource;
  if (opts.replay) source = await replayLoop({ file: opts.replay, speed: opts.speed, logger: log }, handle);
  else {
    const file = kubeconfigPath(opts.kubeconfig, opts.env);
    const cluster = file ? await reachableCluster(file) : { reason: "no kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config)" };
    if ("client" in cluster) source = watchCluster(cluster.client, cluster.description, log, handle);
    else {
      log.info(`no cluster: ${cluster.reason}; replaying the bundled sample events instead`);
      source = await replayLoop({ file: SAMPLE_EVENTS, speed: opts.speed, logger: log }, handle);
    }
  }
  inbox.setStatus({ source: `${source.description} · ${sink ? "cards also sent to Feishu" : "cards shown here only"}` });

  return {
    url: inbox.url,
    inbox,
    source: source.description,
    rebuild,
    async stop() {
      watcher?.close();
      await source.stop();
      await queue;
      await sandbox.close();
      await sink?.close();
      await inbox.close();
    },
  };
}
