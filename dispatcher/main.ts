/**
 * The composition root of `edge-alarm run`: the only place that names concrete parts. It wires
 * the handlers ConfigMap watch → handler set → sandbox, and the Event watch → pipeline →
 * grouping → (leader gate) → outbox → sinks, plus the checkpoint, self-alarms, and the
 * health and metrics endpoint.
 */
import { normalizeEvent } from "../sdk/index.ts";
import type { Logger } from "./log.ts";
import { loadConfig, describeConfig, type Config } from "./config.ts";
import { fileNflogStore, Grouper, systemClock } from "./grouping/index.ts";
import { inClusterClient, kubeconfigClient, type KubeClient } from "./kube/client.ts";
import { ListWatch, eventPaths, type WatchNotification } from "./kube/list-watch.ts";
import { EventRecorder } from "./kube/event-recorder.ts";
import { Sandbox } from "./sandbox/index.ts";
import { HandlerSet } from "./handler-set.ts";
import { Pipeline } from "./pipeline/pipeline.ts";
import { Occurrences } from "./pipeline/occurrences.ts";
import { Checkpoint } from "./state/checkpoint.ts";
import { startHttpServer } from "./http-server.ts";
import { createOutbox } from "./outbox/outbox.ts";
import { createSinks, DEFAULT_CHANNEL } from "./channels.ts";
import { LeaderElector, leaderGate } from "./kube/leader-election.ts";
import { createMetrics, edgeAlarmVersion, METRICS_CONTENT_TYPE, registerDispatcherMetrics } from "./metrics.ts";
import { createSelfAlarms } from "./self-alarms.ts";
import type { Delivery } from "./pipeline/pipeline.ts";
import { startMemoryDebug } from "./memory-debug.ts";

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** A kubeconfig file; otherwise $KUBECONFIG, otherwise the in-cluster ServiceAccount. */
  kubeconfig?: string;
  logger: Logger;
  /** Watch stall timeout, shortened by tests. */
  stallMs?: number;
}

export interface Dispatcher {
  config: Config;
  httpPort: number;
  handlers: HandlerSet;
  pipeline: Pipeline;
  eventWatch: ListWatch | undefined;
  /** Stop watching, deliver what is pending (bounded), save state. */
  stop(): Promise<void>;
}

async function connect(opts: RunOptions, env: Record<string, string | undefined>): Promise<KubeClient> {
  const file = opts.kubeconfig ?? env.KUBECONFIG;
  return file ? kubeconfigClient(file) : inClusterClient(undefined, env);
}

export async function startDispatcher(opts: RunOptions): Promise<Dispatcher> {
  const env = opts.env ?? process.env;
  const config = loadConfig(env); // throws ConfigError listing every problem
  const logger = opts.logger;
  logger.info({ config: describeConfig(config) }, "edge-alarm starting");

  const stopMemoryDebug = startMemoryDebug(env.EDGE_ALARM_DEBUG_MEMORY_MS, logger.child({ component: "memory" }));
  const client = await connect(opts, env);
  const sandbox = await Sandbox.create({ deadlineMs: config.handlerTimeoutMs, isolation: config.sandboxIsolation, logger: logger.child({ component: "sandbox" }) });
  const recorder = new EventRecorder(client, logger);
  const handlers = new HandlerSet(sandbox, logger, async (type, reason, message, cm) => {
    const meta = (cm.metadata ?? {}) as { uid?: string; resourceVersion?: string };
    await recorder.record(
      { kind: "ConfigMap", apiVersion: "v1", namespace: config.namespace, name: config.handlersConfigMap, ...(meta.uid ? { uid: meta.uid } : {}), ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}) },
      type, reason, message,
    );
    if (reason === "HandlerRejected") await selfAlarms.handlerRejected(message);
  });

  const sinks = createSinks(config.channels, logger, { env });
  const outbox = await createOutbox({
    ...(config.stateDir ? { stateDir: config.stateDir } : {}),
    sinks,
    defaultChannel: DEFAULT_CHANNEL,
    spoolCapBytes: config.spoolCapBytes,
    timezone: config.timezone,
    logger: logger.child({ component: "outbox" }),
  });
  outbox.start();

  // With several replicas only the Lease holder sends; followers hold the last 30 s for a failover.
  const elector = config.leaderElection
    ? new LeaderElector({ client, namespace: config.namespace, name: config.leaseName, identity: config.podName, logger: logger.child({ component: "leader-election" }) })
    : undefined;
  const send: (d: Delivery) => Promise<void> = elector
    ? leaderGate<Delivery>(elector, (d) => outbox.enqueue(d), { holdMs: 30_000, onError: (err) => logger.error({ err }, "could not hand over a held alarm") })
    : (d) => outbox.enqueue(d);
  elector?.start();

  const version = edgeAlarmVersion();
  const selfAlarms = createSelfAlarms({
    cluster: config.cluster,
    timezone: config.timezone,
    kinds: config.selfAlarms,
    version,
    deliver: send,
    logger,
    ...(config.stateDir ? { stateDir: config.stateDir } : {}),
    ...(config.heartbeatAt ? { heartbeatAt: config.heartbeatAt } : {}),
    sources: { handlers: () => sandbox.stats(), outbox: () => outbox.stats(), pipeline: () => pipeline.stats },
  });
  selfAlarms.start();
  let announced = false;

  const checkpoint = config.stateDir ? new Checkpoint(config.stateDir, logger) : undefined;
  const saved = await checkpoint?.load();
  if (!checkpoint) logger.warn("EDGE_ALARM_STATE_DIR is unset: after a restart, events of the last few minutes may be alarmed again");
  const grouper = await Grouper.open({
    cluster: config.cluster,
    timezone: config.timezone,
    logger: logger.child({ component: "grouping" }),
    clock: systemClock((err) => logger.error({ err }, "grouping timer failed")),
    deliver: send,
    settings: config.grouping,
    ...(config.stateDir ? { store: fileNflogStore(config.stateDir) } : {}),
  });
  const pipeline = new Pipeline({
    grouper,
    host: sandbox,
    handlers: handlers.current,
    cluster: config.cluster,
    timezone: config.timezone,
    logger,
    occurrences: new Occurrences(20_000, saved?.entries ?? []),
    deliver: send,
  });
  // Without a checkpoint, a first list would alarm every stored Event (up to an hour old): only recent ones count.
  let firstList = !saved;
  const maxAgeMs = config.initialMaxAgeSeconds * 1000;

  const onEvent = async (n: WatchNotification): Promise<void> => {
    const now = Date.now();
    if (n.fromList && firstList && now - Date.parse(normalizeEvent(n.object).lastTimestamp) > maxAgeMs) {
      pipeline.remember(n.object, now);
      checkpoint?.schedule(pipeline.occurrences);
      return;
    }
    try {
      await pipeline.process(n.object, n.type, now);
    } catch (err) {
      // The pipeline contains handler failures itself; anything here is a bug, but must not stop the watch.
      logger.error({ err }, "event processing failed");
    }
    checkpoint?.schedule(pipeline.occurrences);
  };

  let eventWatch: ListWatch | undefined;
  const startEventWatch = () => {
    if (eventWatch) return;
    eventWatch = new ListWatch({
      client, what: "events", paths: eventPaths(config.watchNamespaces), logger, onEvent,
      ...(opts.stallMs ? { stallMs: opts.stallMs } : {}),
    });
    eventWatch.start();
  };
  // Stop counting list items as "first list" once the first watch is open.
  const firstListDone = setInterval(() => {
    if (eventWatch?.established) {
      firstList = false;
      clearInterval(firstListDone);
    }
  }, 100);

  const configMapWatch = new ListWatch({
    client,
    what: "handlers ConfigMap",
    paths: [`/api/v1/namespaces/${encodeURIComponent(config.namespace)}/configmaps`],
    fieldSelector: `metadata.name=${config.handlersConfigMap}`,
    logger,
    ...(opts.stallMs ? { stallMs: opts.stallMs } : {}),
    onEvent: async (n) => {
      if (n.type === "DELETED") {
        logger.warn(`handlers ConfigMap ${config.namespace}/${config.handlersConfigMap} was deleted; keeping the loaded handlers`);
        return;
      }
      await handlers.apply(n.object);
      // Events are watched only once handlers run, so none is marked handled by an empty set.
      if (handlers.ready) startEventWatch();
      if (handlers.ready && !announced) {
        announced = true;
        await selfAlarms.started(handlers.describe().map((h) => h.name));
      }
    },
  });
  configMapWatch.start();
  const missingTimer = setTimeout(() => {
    if (!handlers.ready) logger.error(`no handlers loaded yet: is ConfigMap ${config.namespace}/${config.handlersConfigMap} applied? (edge-alarm build | kubectl apply -f -)`);
  }, 10_000);

  const metrics = createMetrics();
  registerDispatcherMetrics(metrics, {
    pipeline: () => pipeline.stats,
    outbox: () => outbox.stats(),
    handlers: () => sandbox.stats(),
    handlerSet: () => handlers,
    watches: () => ({ configmap: configMapWatch, events: eventWatch }),
    ...(elector ? { isLeader: () => elector.isLeader } : {}),
  }, { version });

  const http = await startHttpServer(config.httpPort, {
    notReady: () => [
      ...(handlers.ready ? [] : ["no handlers loaded"]),
      ...(eventWatch?.established ? [] : ["event watch not established"]),
    ],
    extraRoutes: { "/metrics": () => ({ contentType: METRICS_CONTENT_TYPE, body: metrics.render() }) },
  });
  logger.info({ port: http.port }, "health endpoint listening");

  return {
    config,
    httpPort: http.port,
    handlers,
    pipeline,
    get eventWatch() {
      return eventWatch;
    },
    async stop() {
      stopMemoryDebug();
      clearInterval(firstListDone);
      clearTimeout(missingTimer);
      await selfAlarms.stop();
      await configMapWatch.stop();
      await eventWatch?.stop();
      await grouper.close();
      await outbox.drain(5_000).catch((err: unknown) => logger.warn({ err: (err as Error).message }, "undelivered alarms remain in the spool"));
      // The Lease is released only after the drain, so the next leader starts after our last send.
      await elector?.stop();
      await outbox.stop();
      if (checkpoint) await checkpoint.save(pipeline.occurrences);
      await sandbox.close();
      for (const sink of sinks.values()) await sink.close();
      await http.close();
      await client.close();
      logger.info("edge-alarm stopped");
    },
  };
}
