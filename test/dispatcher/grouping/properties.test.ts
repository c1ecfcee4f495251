/**
 * Property tests over random event streams (fast-check): whatever the stream and the settings,
 * every distinct warning is named on some card, the send limits hold, and a restart at any point
 * (between events, or in the middle of handing cards on) neither loses nor repeats a card.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../dispatcher/grouping/clock.ts";
import { Grouper } from "../../../dispatcher/grouping/grouper.ts";
import { memoryNflogStore, type NflogStore } from "../../../dispatcher/grouping/nflog.ts";
import { DEFAULT_GROUPING, type GroupingSettings } from "../../../dispatcher/grouping/settings.ts";
import { Occurrences, type OccurrenceEntry } from "../../../dispatcher/pipeline/occurrences.ts";
import { Pipeline, type Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import type { InputItem } from "../../../dispatcher/replay/read-events.ts";
import defaultHandler from "../../../handlers/default.ts";
import { card, defineHandler, div, md } from "../../../sdk/index.ts";
import { plainHost } from "../../plain-host.ts";
import { CLUSTER, coverage, quietLogger, rates, runStorm, TIMEZONE } from "./storm-kit.ts";

const T0 = Date.parse("2026-11-20T06:00:00Z");
const OBJECTS = [
  { kind: "Pod", namespace: "iot", name: "web-7d4b9c6f8d-q7r8s", host: "edge-1" },
  { kind: "Pod", namespace: "iot", name: "web-7d4b9c6f8d-m4n5p", host: "edge-2" },
  { kind: "Pod", namespace: "iot", name: "db-0", host: "edge-1" },
  { kind: "Pod", namespace: "iot", name: "db-1", host: "edge-2" },
  { kind: "Pod", namespace: "kube-system", name: "agent-x2k4p", host: "edge-2" },
  { kind: "Pod", namespace: "prod", name: "api-5f6d7c8b9d-k2j6h", host: "edge-1" },
  { kind: "Node", namespace: "", name: "edge-1", host: "edge-1" },
  { kind: "Node", namespace: "", name: "edge-2", host: "edge-2" },
];
const REASONS = ["BackOff", "Unhealthy", "FailedScheduling", "NodeNotReady", "Failed", "Rebooted", "OutOfcpu"];
const MESSAGES = ["Back-off restarting failed container", "Liveness probe failed: HTTP probe failed with statuscode: 500", "0/2 nodes are available: 1 Insufficient cpu.", "(combined from similar events): Liveness probe failed: "];

type Step =
  | { op: "new"; obj: number; reason: number; msg: number; normal: boolean; gap: number }
  | { op: "bump"; pick: number; by: number; gap: number }
  | { op: "delete"; pick: number; gap: number };

const gap = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 5_000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 5_000, max: 600_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 600_000, max: 3 * 3_600_000 }) },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("new" as const), obj: fc.nat(OBJECTS.length - 1), reason: fc.nat(REASONS.length - 1), msg: fc.nat(MESSAGES.length - 1), normal: fc.boolean().map((b) => b && Math.random() < 0.3), gap }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("bump" as const), pick: fc.nat(), by: fc.integer({ min: 1, max: 30 }), gap }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: fc.nat(), gap }) },
);

const settings: fc.Arbitrary<GroupingSettings> = fc.record({
  wait: fc.constantFrom(0, 1_000, 10_000),
  interval: fc.constantFrom(60_000, 300_000),
  repeat: fc.constantFrom(600_000, 3_600_000),
  digestGroups: fc.integer({ min: 2, max: 4 }),
  burst: fc.integer({ min: 1, max: 5 }),
  periodMs: fc.constantFrom(10_000, 60_000),
}).map((s) => ({
  ...DEFAULT_GROUPING,
  timing: { waitMs: s.wait, intervalMs: s.interval, repeatMs: s.repeat },
  storm: { digestGroups: s.digestGroups, burst: s.burst, periodMs: s.periodMs },
}));

interface Stream {
  uid: string;
  object: Record<string, unknown>;
}

/** Turn steps into watch notifications with increasing times. */
function toItems(steps: Step[]): InputItem[] {
  const live: Stream[] = [];
  const items: InputItem[] = [];
  let t = T0;
  steps.forEach((s, i) => {
    t += s.gap;
    const iso = new Date(t).toISOString();
    if (s.op === "new") {
      const o = OBJECTS[s.obj]!;
      const object = {
        metadata: { name: `${o.name}.${i}`, namespace: o.namespace || "default", uid: `ev-${i}` },
        involvedObject: { kind: o.kind, namespace: o.namespace, name: o.name },
        reason: REASONS[s.reason], message: MESSAGES[s.msg], type: s.normal ? "Normal" : "Warning",
        source: { component: "kubelet", host: o.host }, count: 1, firstTimestamp: iso, lastTimestamp: iso,
      };
      live.push({ uid: `ev-${i}`, object });
      items.push({ type: "ADDED", object, where: `step ${i}` });
      return;
    }
    if (!live.length) return;
    const idx = s.pick % live.length;
    const stream = live[idx]!;
    if (s.op === "delete") {
      live.splice(idx, 1);
      items.push({ type: "DELETED", object: stream.object, where: `step ${i}` });
      return;
    }
    stream.object = { ...stream.object, count: (stream.object.count as number) + s.by, lastTimestamp: iso };
    items.push({ type: "MODIFIED", object: stream.object, where: `step ${i}` });
  });
  return items;
}

const timeOf = (item: InputItem) => Date.parse(String(item.object.lastTimestamp));

/** A second handler on another channel with its own group key, so channels and Alarm.group are exercised too. */
const probes = defineHandler({
  match: { reason: "Unhealthy" },
  handle: (e) => ({ card: card({ title: "probe", elements: [div(md`${e.involvedObject.name}: ${e.message}`)] }), channel: "ops", group: "probes" }),
});

describe("grouping properties over random event streams", () => {
  it("names every distinct warning on some card and keeps the send limits", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), settings, async (steps, s) => {
        const items = toItems(steps);
        const { deliveries } = await runStorm(items, s);
        const cov = coverage(items, deliveries);
        expect(cov.missing).toEqual([]);
        expect(rates(deliveries).ok).toBe(true);
        expect(deliveries.every((d) => d.bytes <= 20_000)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it("survives a restart at any point: the log reloads to the state it had, nothing is lost or sent twice", async () => {
    const crash = fc.oneof(
      fc.record({ kind: fc.constant("between" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("handing-on" as const), at: fc.nat(12) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), settings, crash, fc.nat(5), async (steps, s, crashAt, lag) => {
        const items = toItems(steps);
        const accepted: Delivery[] = [];
        // The process: its log store stops writing the moment it "dies".
        const disk = memoryNflogStore();
        let dead = false;
        const store: NflogStore = {
          ...disk,
          append: async (text) => void (dead || (await disk.append(text))),
          compact: async (snapshot) => void (dead || (await disk.compact(snapshot))),
        };
        let attempts = 0;
        let restarted = false;
        const die = () => {
          dead = true;
          throw new Error("process died");
        };
        const accept = (d: Delivery) => {
          if (dead || (!restarted && crashAt.kind === "handing-on" && attempts++ === crashAt.at)) die();
          accepted.push(d);
        };
        const handlers = plainHost({ default: defaultHandler, probes });
        const start = async (at: number, st: NflogStore, entries: OccurrenceEntry[]) => {
          const clock = new VirtualClock(at);
          const grouper = await Grouper.open({ cluster: CLUSTER, timezone: TIMEZONE, logger: quietLogger(), clock, deliver: accept, settings: s, store: st });
          const pipeline = new Pipeline({
            host: handlers.host, handlers: () => handlers.loaded, cluster: CLUSTER, timezone: TIMEZONE, logger: quietLogger(),
            deliver: () => { throw new Error("ungrouped delivery"); }, grouper, occurrences: new Occurrences(20_000, entries),
          });
          return { clock, grouper, pipeline };
        };

        let p = await start(T0, store, []);
        const checkpoints: OccurrenceEntry[][] = [];
        let i = 0;
        let live = "";
        for (; i < items.length; i++) {
          const item = items[i]!;
          await p.clock.advanceTo(Math.max(p.clock.now(), timeOf(item)));
          if (dead) break;
          await p.pipeline.process(item.object, item.type, p.clock.now());
          checkpoints.push([...p.pipeline.occurrences.values()]);
          if (crashAt.kind === "between" && i === crashAt.at % items.length) {
            live = JSON.stringify(p.grouper.state);
            dead = true;
            break;
          }
        }
        // Run out the timers, unless the process dies on the way.
        while (!dead && p.clock.next !== undefined) await p.clock.advanceTo(p.clock.next);
        const finished = !dead;
        if (finished) {
          dead = true; // a crash after everything: the restart must send nothing more
          live = JSON.stringify(p.grouper.state);
        }
        const crashedAt = p.clock.now();
        const sentBefore = accepted.length;

        // Restart: the log as written, a checkpoint of occurrences possibly a few events stale, a relist.
        dead = false;
        restarted = true;
        p = await start(crashedAt, memoryNflogStore(disk.files), checkpoints[Math.max(0, checkpoints.length - 1 - lag)] ?? []);
        if (live) expect(JSON.stringify(p.grouper.state)).toBe(live);
        const current = new Map<string, InputItem>();
        for (const item of items.slice(0, i + 1)) {
          const uid = String((item.object.metadata as { uid: string }).uid);
          if (item.type === "DELETED") current.delete(uid);
          else current.set(uid, item);
        }
        for (const item of current.values()) await p.pipeline.process(item.object, "ADDED", p.clock.now());
        for (const item of items.slice(i + 1)) {
          await p.clock.advanceTo(Math.max(p.clock.now(), timeOf(item)));
          await p.pipeline.process(item.object, item.type, p.clock.now());
        }
        await p.clock.runUntilIdle();
        await p.grouper.close();

        if (finished) expect(accepted.length).toBe(sentBefore);
        const ids = accepted.map((d) => d.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(coverage(items, accepted).missing).toEqual([]);
        expect(rates(accepted).ok).toBe(true);
      }),
      { numRuns: 80 },
    );
  });
});
