/**
 * Shared pieces for outbox tests: realistic deliveries (cards shaped like the default handler's),
 * a logger whose output the test can read, and a seeded random source for reproducible jitter.
 */
import { Writable } from "node:stream";
import { card, div, fields, md, note } from "../../../sdk/index.ts";
import { createLogger, type Logger } from "../../../dispatcher/log.ts";
import { buildFeishuBody } from "../../../dispatcher/pipeline/feishu-body.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";

export interface DeliverySpec {
  reason?: string;
  namespace?: string;
  pod?: string;
  message?: string;
  channel?: string;
  at?: string;
  fingerprint?: string;
  title?: string;
}

/** A Warning alarm card as the default handler builds it, through the pipeline's body budget. */
export function makeDelivery(i: number, spec: DeliverySpec = {}): Delivery {
  const reason = spec.reason ?? "BackOff";
  const namespace = spec.namespace ?? "iot";
  const pod = spec.pod ?? `reader-${i}`;
  const message = spec.message ?? `Back-off restarting failed container reader in pod ${pod}_${namespace}(uid-${i})`;
  const fp = spec.fingerprint ?? `fp${String(i).padStart(10, "0")}`;
  const at = spec.at ?? new Date(Date.UTC(2025, 5, 1, 6, 2, 0) + i * 1000).toISOString();
  const alarmCard = card({
    title: spec.title ?? "edge-1 alarm",
    template: "red",
    elements: [
      div(md`**EventType:** Warning
**EventKind:** Pod
**EventReason:** ${reason}
**EventTime:** ${at}
**EventMessage:** ${message}`),
      fields([md`**Object:** ${`${namespace}/${pod}`}`, md`**Node:** ${"node-a"}`, md`**Count:** ${3}`, md`**First seen:** ${at}`]),
      note(`edge-alarm · UTC · fingerprint ${fp}`),
    ],
  });
  return { at, channel: spec.channel ?? "default", handler: "default", eventUid: `uid-${i}`, fingerprint: fp, ...buildFeishuBody(alarmCard) };
}

export interface CapturedLog {
  logger: Logger;
  text(): string;
  lines(): Array<Record<string, unknown>>;
}

export function captureLog(level = "debug"): CapturedLog {
  let text = "";
  const logger = createLogger({
    level,
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    }),
  });
  return {
    logger,
    text: () => text,
    lines: () => text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** mulberry32: a small seeded PRNG, so jitter is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The largest number of times in any window of `spanMs` (a time at t counts in (t - span, t]). */
export function maxInWindow(times: readonly number[], spanMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[lo] as number) <= (sorted[hi] as number) - spanMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Every text of a card (contents), joined: for asserting what a digest lists. */
export function cardText(body: unknown): string {
  const out: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (typeof n === "object" && n !== null) {
      for (const [k, v] of Object.entries(n)) {
        if (k === "content" && typeof v === "string") out.push(v);
        else walk(v);
      }
    }
  };
  walk(body);
  return out.join("\n");
}

export interface VirtualClock {
  now(): number;
  set(ms: number): void;
}

export function virtualClock(start: number): VirtualClock {
  let t = start;
  return { now: () => t, set: (ms) => void (t = ms) };
}

interface Pumpable {
  pump(): Promise<number>;
  stats(): { pending: number };
}

/**
 * Drives an outbox in virtual time until nothing is pending (and `until` holds, if given):
 * pump, then jump the clock to the next due moment. Throws past `limitMs` of virtual time.
 */
export async function runVirtual(outbox: Pumpable, clock: VirtualClock, opts: { limitMs?: number; until?: () => boolean } = {}): Promise<number> {
  const start = clock.now();
  const limit = start + (opts.limitMs ?? 60 * 60_000);
  for (;;) {
    const due = await outbox.pump();
    if (outbox.stats().pending === 0 && (opts.until?.() ?? true)) return clock.now() - start;
    if (!Number.isFinite(due) && opts.until === undefined) throw new Error(`outbox idle with ${outbox.stats().pending} alarms pending`);
    const next = Number.isFinite(due) ? due : clock.now() + 1000;
    if (next > limit) throw new Error(`not settled within ${(limit - start) / 1000} virtual seconds (${outbox.stats().pending} pending)`);
    clock.set(Math.max(clock.now() + 1, next));
  }
}

/**
 * The real clock shifted to ten minutes past a half hour. Tests that run on real timers and
 * drain a backlog use it: the outbox holds backlogs out of the busy zone around :00 and :30
 * (up to a minute), so on the real clock they would fail whenever CI happens to run near a mark.
 */
export function offMarkClock(): () => number {
  const halfHour = 30 * 60_000;
  const now = Date.now();
  const offset = 10 * 60_000 - (now % halfHour);
  return () => Date.now() + offset;
}
