/**
 * Remembers which event streams were already handled, so a repeating event (count bumps arrive as
 * MODIFIED, a relist re-sends ADDED) is one occurrence stream and never a card per bump. Bounded:
 * the stalest entries go first, and Events expire after an hour (--event-ttl) anyway.
 */
import type { KubeEvent } from "../../sdk/index.ts";

export type Occurrence = "new" | "repeat" | "seen";

export interface OccurrenceEntry {
  key: string;
  count: number;
  lastSeen: string;
}

export function occurrenceKey(e: KubeEvent): string {
  return e.metadata.uid || `${e.metadata.namespace}/${e.metadata.name}`;
}

export class Occurrences {
  readonly #entries = new Map<string, OccurrenceEntry>();
  readonly #max: number;

  constructor(max = 20_000, entries: OccurrenceEntry[] = []) {
    this.#max = max;
    for (const e of entries) this.#entries.set(e.key, e);
  }

  /** Classify an event against what was seen before, and remember it. */
  observe(e: KubeEvent): Occurrence {
    const occurrence = this.classify(e);
    this.record(e);
    return occurrence;
  }

  /** Classify an event against what was seen before, without remembering it. */
  classify(e: KubeEvent): Occurrence {
    const prev = this.#entries.get(occurrenceKey(e));
    if (!prev) return "new";
    return e.count > prev.count || e.lastTimestamp > prev.lastSeen ? "repeat" : "seen";
  }

  /**
   * Remember an event. Separate from `classify` so the pipeline records an event only once its
   * alarms are safely in the notification log: a checkpoint then never holds an event whose alarm
   * a crash could lose.
   */
  record(e: KubeEvent): void {
    const key = occurrenceKey(e);
    const prev = this.#entries.get(key);
    const next = { key, count: e.count, lastSeen: e.lastTimestamp };
    if (prev) this.#entries.delete(key); // re-insert: Map order is our LRU order
    this.#entries.set(key, prev && prev.count > next.count ? { ...next, count: prev.count } : next);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  forget(e: KubeEvent): void {
    this.#entries.delete(occurrenceKey(e));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entries without a copy, stalest first; do not change the memory while iterating. */
  values(): IterableIterator<OccurrenceEntry> {
    return this.#entries.values();
  }
}
