/**
 * The outbox between the pipeline and the sinks: it takes every Delivery, keeps it until a sink
 * has confirmed it, and sends within each webhook's rate limit.
 *
 * FIRST VERSION (interface for integration): in-memory queue, one send at a time per channel,
 * retryable failures retried with exponential backoff and jitter. The spool, rate gate, digests,
 * folding and offline handling follow behind the same interface.
 */
import type { Logger } from "../log.ts";
import type { Delivery } from "../pipeline/pipeline.ts";
import type { Sink } from "../sinks/sink.ts";

export interface OutboxOptions {
  /** Directory for the spool and dead letters; memory only when absent. */
  stateDir?: string;
  /** Sinks by channel name. */
  sinks: ReadonlyMap<string, Sink>;
  /** Where deliveries for unknown channels go. Default "default". */
  defaultChannel?: string;
  logger: Logger;
  /** Wall clock in ms. Default Date.now. */
  clock?: () => number;
}

export interface OutboxStats {
  pending: number;
  spoolBytes: number;
  sent: number;
  sentByCode: Record<string, number>;
  deadLetters: number;
  folded: number;
  online: boolean;
}

export interface Outbox {
  /** Resolves once the delivery is durable (spooled). */
  enqueue(d: Delivery): Promise<void>;
  start(): void;
  /** Flushes state and stops sending. */
  stop(): Promise<void>;
  /** Waits until nothing is pending (tests, shutdown). Rejects after timeoutMs. */
  drain(timeoutMs?: number): Promise<void>;
  stats(): OutboxStats;
}

export async function createOutbox(opts: OutboxOptions): Promise<Outbox> {
  const defaultChannel = opts.defaultChannel ?? "default";
  const log = opts.logger.child({ component: "outbox" });
  const queues = new Map<string, Delivery[]>();
  const stats: OutboxStats = { pending: 0, spoolBytes: 0, sent: 0, sentByCode: {}, deadLetters: 0, folded: 0, online: true };
  let running = false;
  const lanes = new Map<string, Promise<void>>();
  const wakers = new Map<string, () => void>();
  const idleWaiters = new Set<() => void>();

  const countCode = (key: string): void => {
    stats.sentByCode[key] = (stats.sentByCode[key] ?? 0) + 1;
  };
  const checkIdle = (): void => {
    if (stats.pending === 0) for (const w of idleWaiters) w();
  };
  const wake = (channel: string): void => {
    wakers.get(channel)?.();
    wakers.delete(channel);
  };

  function channelFor(d: Delivery): string {
    if (opts.sinks.has(d.channel)) return d.channel;
    log.warn({ channel: d.channel, fallback: defaultChannel, handler: d.handler }, "alarm names an unknown channel; sending to the default channel");
    return defaultChannel;
  }

  async function runLane(channel: string, queue: Delivery[]): Promise<void> {
    const sink = opts.sinks.get(channel);
    let failures = 0;
    while (running) {
      const next = queue[0];
      if (next === undefined || sink === undefined) {
        await new Promise<void>((resolve) => wakers.set(channel, resolve));
        continue;
      }
      const result = await sink.send(next.body, { fingerprint: next.fingerprint, handler: next.handler, eventUid: next.eventUid });
      countCode(result.ok ? "0" : String(result.code ?? "transport"));
      if (result.ok || !result.retryable) {
        queue.shift();
        stats.pending--;
        if (result.ok) stats.sent++;
        else {
          stats.deadLetters++;
          log.error({ channel, code: result.code, reason: result.msg, fingerprint: next.fingerprint }, "delivery failed for good");
        }
        failures = 0;
        checkIdle();
        continue;
      }
      failures++;
      const base = Math.min(120_000, 1000 * 2 ** Math.min(failures, 7));
      await new Promise((resolve) => setTimeout(resolve, base / 2 + Math.random() * (base / 2)));
    }
  }

  function startLane(channel: string, queue: Delivery[]): void {
    if (lanes.has(channel)) return;
    lanes.set(channel, runLane(channel, queue).catch((err: unknown) => log.error({ channel, err }, "outbox lane crashed")));
  }

  return {
    async enqueue(d) {
      const channel = channelFor(d);
      let queue = queues.get(channel);
      if (queue === undefined) queues.set(channel, (queue = []));
      queue.push(d);
      stats.pending++;
      if (running) startLane(channel, queue);
      wake(channel);
    },
    start() {
      if (running) return;
      running = true;
      for (const [channel, queue] of queues) startLane(channel, queue);
    },
    async stop() {
      running = false;
      for (const channel of [...wakers.keys()]) wake(channel);
      await Promise.all(lanes.values());
      lanes.clear();
    },
    drain(timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          idleWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          idleWaiters.delete(done);
          reject(new Error(`outbox: ${stats.pending} deliveries still pending after ${timeoutMs} ms`));
        }, timeoutMs);
        idleWaiters.add(done);
        checkIdle();
      });
    },
    stats: () => ({ ...stats, sentByCode: { ...stats.sentByCode } }),
  };
}
