/** Small builders for grouping tests: events, a grouper on a virtual clock, and what it delivered. */
import { VirtualClock } from "../../../dispatcher/grouping/clock.ts";
import { Grouper, type GroupInput } from "../../../dispatcher/grouping/grouper.ts";
import type { NflogStore } from "../../../dispatcher/grouping/nflog.ts";
import { DEFAULT_GROUPING, type GroupingSettings } from "../../../dispatcher/grouping/settings.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import { card, div, fingerprint, md, normalizeEvent, note, type KubeEvent } from "../../../sdk/index.ts";
import { cardText, quietLogger } from "./storm-kit.ts";

export const T0 = Date.parse("2026-11-20T06:00:00Z");

export interface EventSpec {
  uid?: string;
  pod?: string;
  kind?: string;
  namespace?: string;
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  at?: number;
  host?: string;
}

export function event(spec: EventSpec = {}): KubeEvent {
  const at = new Date(spec.at ?? T0).toISOString();
  const name = spec.pod ?? "web-7d4b9c6f8d-x2x9z";
  return normalizeEvent({
    metadata: { name: `${name}.1`, namespace: spec.namespace ?? "iot", uid: spec.uid ?? `uid-${name}-${spec.reason ?? "BackOff"}` },
    involvedObject: { kind: spec.kind ?? "Pod", namespace: spec.kind === "Node" ? "" : (spec.namespace ?? "iot"), name },
    reason: spec.reason ?? "BackOff", type: spec.type ?? "Warning", message: spec.message ?? "Back-off restarting failed container",
    count: spec.count ?? 1, firstTimestamp: new Date(T0).toISOString(), lastTimestamp: at,
    source: { component: "kubelet", host: spec.host ?? "edge-1" },
  });
}

/** The alarm the default handler would make, reduced to what the grouper keeps. */
export function input(e: KubeEvent, extra: Partial<GroupInput> = {}): GroupInput {
  return {
    handler: "default", channel: "default", event: e, fingerprint: fingerprint("edge", e),
    alarm: { card: card({ title: "edge alarm", template: "red", elements: [div(md`**EventReason:** ${e.reason} on ${e.involvedObject.name}`), note(`fingerprint ${fingerprint("edge", e)}`)] }) },
    ...extra,
  };
}

export interface Rig {
  clock: VirtualClock;
  grouper: Grouper;
  sent: Delivery[];
  texts: () => string[];
}

export interface RigOptions {
  settings?: GroupingSettings;
  store?: NflogStore;
  maxJournalBytes?: number;
  start?: number;
  sent?: Delivery[];
  /** Called before a card counts as handed on; throwing refuses it (the outbox is gone). */
  accept?: (d: Delivery) => void;
}

export async function rig(opts: RigOptions = {}): Promise<Rig> {
  const clock = new VirtualClock(opts.start ?? T0);
  const sent = opts.sent ?? [];
  const grouper = await Grouper.open({
    cluster: "edge", timezone: "UTC", logger: quietLogger(), clock,
    deliver: (d) => {
      opts.accept?.(d);
      sent.push(d);
    },
    settings: opts.settings ?? DEFAULT_GROUPING, ...(opts.store ? { store: opts.store } : {}),
    ...(opts.maxJournalBytes ? { maxJournalBytes: opts.maxJournalBytes } : {}),
  });
  return { clock, grouper, sent, texts: () => sent.map(cardText) };
}

export function settingsWith(patch: { timing?: Partial<GroupingSettings["timing"]>; storm?: Partial<GroupingSettings["storm"]> }): GroupingSettings {
  return {
    ...DEFAULT_GROUPING,
    timing: { ...DEFAULT_GROUPING.timing, ...patch.timing },
    storm: { ...DEFAULT_GROUPING.storm, ...patch.storm },
  };
}
