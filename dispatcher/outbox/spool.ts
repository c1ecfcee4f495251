/**
 * The outbox's pending alarms, in memory and (with a state dir) in a crash-safe log on disk
 * (spool-log.ts). Every change is applied in memory at once and appended to the log; callers
 * that need durability await the returned promise.
 *
 * Over the cap, the oldest alarms' detail is folded into one summary per channel (see
 * spool-entries.ts) until the spool is back under three quarters of the cap, so folding happens
 * in steps rather than on every new alarm. Alarms being sent are locked and never folded, so a
 * send that succeeds can never also be counted in a fold.
 *
 * Grouped cards carry a delivery id. The spool indexes the ids it holds and remembers the last
 * ones it let go of (in the log, and across compaction), so the outbox can drop a card the
 * grouper's notification log hands on again after a crash (`copyOf`).
 */
import path from "node:path";
import type { Logger } from "../log.ts";
import { encodeRecord, SpoolLog, type SpoolLogStats } from "./spool-log.ts";
import { alarmsIn, foldItems, type Fold, type SpoolEntry, type SpoolItem } from "./spool-entries.ts";

export const DEFAULT_SPOOL_CAP_BYTES = 4 * 1024 * 1024;
/** The log is compacted only past this size (and when over twice the live size). */
const COMPACT_FLOOR_BYTES = 256 * 1024;
const FOLD_TARGET = 0.75;
/**
 * Delivery ids of items that left the spool (sent, dead-lettered, folded) that are remembered, so
 * a card the notification log hands on again after a crash is dropped even when it went out
 * before the crash. The log re-hands only cards whose hand-off record was lost, i.e. the last
 * moments before a crash: a thousand is far more than that window holds.
 */
const REMEMBERED_IDS = 1_000;

type LogRecord =
  | { t: "a"; e: SpoolItem }
  | { t: "f"; e: Fold; absorbs: number[] }
  | { t: "d"; ids: number[] }
  /** Remembered delivery ids, written by compaction (the records that showed them are gone). */
  | { t: "k"; ids: string[] };

export interface SpoolOptions {
  /** The spool lives in `<stateDir>/outbox/spool.log`; memory only when absent. */
  stateDir?: string;
  capBytes?: number;
  logger: Logger;
}

export type NewItem = Omit<SpoolItem, "id" | "type">;

interface Live {
  entry: SpoolEntry;
  bytes: number;
}

const isRecord = (r: unknown): r is LogRecord => {
  if (typeof r !== "object" || r === null) return false;
  const rec = r as Record<string, unknown>;
  if (rec.t === "d") return Array.isArray(rec.ids);
  if (rec.t === "k") return Array.isArray(rec.ids) && rec.ids.every((id) => typeof id === "string");
  const e = rec.e as Record<string, unknown> | undefined;
  if (typeof e !== "object" || e === null || typeof e.id !== "number" || typeof e.channel !== "string") return false;
  return (rec.t === "a" && e.type === "item") || (rec.t === "f" && e.type === "fold" && Array.isArray(rec.absorbs));
};

export class Spool {
  readonly #log: SpoolLog | undefined;
  readonly #cap: number;
  readonly #logger: Logger;
  readonly #live = new Map<number, Live>();
  readonly #locked = new Set<number>();
  /** Live items by delivery id. */
  readonly #byDeliveryId = new Map<string, number>();
  /** Delivery ids that left the spool, oldest first (a Set keeps insertion order). */
  readonly #settled = new Set<string>();
  #nextId = 1;
  #liveBytes = 0;
  #compacting = false;
  #overCapWarned = false;
  /** Alarms folded since start. */
  folded = 0;

  private constructor(log: SpoolLog | undefined, cap: number, logger: Logger) {
    this.#log = log;
    this.#cap = cap;
    this.#logger = logger;
  }

  static async open(opts: SpoolOptions): Promise<Spool> {
    const cap = opts.capBytes ?? DEFAULT_SPOOL_CAP_BYTES;
    if (opts.stateDir === undefined) return new Spool(undefined, cap, opts.logger);
    const file = path.join(opts.stateDir, "outbox", "spool.log");
    const { log, loaded } = await SpoolLog.open(file);
    const spool = new Spool(log, cap, opts.logger);
    let malformed = 0;
    for (const record of loaded.records) {
      if (isRecord(record)) spool.#apply(record);
      else malformed++;
    }
    const damaged = loaded.corrupt + malformed;
    if (damaged > 0 || loaded.tornBytes > 0) {
      opts.logger.warn({ corruptRecords: damaged, tornBytes: loaded.tornBytes }, "spool had damaged records (skipped) or a torn last write (cut off)");
    }
    if (spool.#live.size > 0) opts.logger.info({ pending: spool.pendingAlarms(), bytes: spool.#liveBytes }, "spool loaded: undelivered alarms from before the restart");
    await spool.#enforceCap();
    return spool;
  }

  #apply(record: LogRecord): void {
    if (record.t === "d") {
      for (const id of record.ids) this.#delete(id);
      return;
    }
    if (record.t === "k") {
      for (const id of record.ids) this.#remember(id);
      return;
    }
    if (record.t === "f") for (const id of record.absorbs) this.#delete(id);
    this.#delete(record.e.id);
    const bytes = Buffer.byteLength(encodeRecord(record.t === "f" ? { ...record, absorbs: [] } : record), "utf8");
    this.#live.set(record.e.id, { entry: record.e, bytes });
    this.#liveBytes += bytes;
    this.#nextId = Math.max(this.#nextId, record.e.id + 1);
    const deliveryId = record.t === "a" ? record.e.deliveryId : undefined;
    if (deliveryId !== undefined) {
      this.#byDeliveryId.set(deliveryId, record.e.id);
      this.#settled.delete(deliveryId);
    }
  }

  #delete(id: number): void {
    // Ids are never reused, even those only seen deleted.
    if (id >= this.#nextId) this.#nextId = id + 1;
    const live = this.#live.get(id);
    if (live === undefined) return;
    this.#live.delete(id);
    this.#liveBytes -= live.bytes;
    const deliveryId = live.entry.type === "item" ? live.entry.deliveryId : undefined;
    if (deliveryId !== undefined) {
      if (this.#byDeliveryId.get(deliveryId) === id) this.#byDeliveryId.delete(deliveryId);
      this.#remember(deliveryId);
    }
  }

  #remember(deliveryId: string): void {
    this.#settled.delete(deliveryId);
    this.#settled.add(deliveryId);
    if (this.#settled.size <= REMEMBERED_IDS) return;
    const oldest = this.#settled.values().next();
    if (oldest.done !== true) this.#settled.delete(oldest.value);
  }

  /** Applies and appends records; resolves once durable. */
  async #commit(records: LogRecord[]): Promise<void> {
    for (const r of records) this.#apply(r);
    if (this.#log === undefined || records.length === 0) return;
    const written = this.#log.append(records.map(encodeRecord).join(""));
    this.#maybeCompact();
    await written;
  }

  #maybeCompact(): void {
    const log = this.#log;
    if (log === undefined || this.#compacting) return;
    const fileBytes = log.stats.fileBytes;
    if (fileBytes <= COMPACT_FLOOR_BYTES || fileBytes <= 2 * this.#liveBytes) return;
    this.#compacting = true;
    const live = this.#live;
    const settled = this.#settled;
    log
      .rewrite(function* () {
        if (settled.size > 0) yield encodeRecord({ t: "k", ids: [...settled] });
        for (const { entry } of live.values()) yield encodeRecord(entry.type === "fold" ? { t: "f", e: entry, absorbs: [] } : { t: "a", e: entry });
      })
      .catch((err: unknown) => this.#logger.error({ err }, "spool compaction failed; the log keeps growing until the next try"))
      .finally(() => {
        this.#compacting = false;
      });
  }

  /** Adds an alarm; `durable` resolves once it is on disk. Folds the oldest detail when over the cap. */
  add(item: NewItem): { item: SpoolItem; durable: Promise<void> } {
    const full: SpoolItem = { ...item, id: this.#nextId++, type: "item" };
    const durable = this.#commit([{ t: "a", e: full }]);
    const folded = this.#enforceCap();
    return { item: full, durable: Promise.all([durable, folded]).then(() => undefined) };
  }

  /**
   * When the spool holds the delivery with this id, or let go of it recently (sent,
   * dead-lettered or folded): a promise that resolves once that is durable. Undefined for an id
   * it has not seen. The caller drops its copy instead of adding it.
   */
  copyOf(deliveryId: string): Promise<void> | undefined {
    const id = this.#byDeliveryId.get(deliveryId);
    const live = id === undefined ? undefined : this.#live.get(id);
    if (live?.entry.type === "item") {
      // Its first write may still be in flight, or may have failed: the same record again
      // (idempotent by id) is on disk when this resolves, whichever happened.
      return this.#log?.append(encodeRecord({ t: "a", e: live.entry })) ?? Promise.resolve();
    }
    return this.#settled.has(deliveryId) ? Promise.resolve() : undefined;
  }

  /** Forgets delivered (or dead-lettered) entries; resolves once durable. */
  remove(ids: readonly number[]): Promise<void> {
    const present = ids.filter((id) => this.#live.has(id));
    if (present.length === 0) return Promise.resolve();
    return this.#commit([{ t: "d", ids: present }]);
  }

  async #enforceCap(): Promise<void> {
    if (this.#liveBytes <= this.#cap) {
      this.#overCapWarned = false;
      return;
    }
    const target = this.#cap * FOLD_TARGET;
    const candidates = [...this.#live.values()]
      .filter((l): l is { entry: SpoolItem; bytes: number } => l.entry.type === "item" && !this.#locked.has(l.entry.id))
      .sort((a, b) => a.entry.id - b.entry.id);
    const byChannel = new Map<string, SpoolItem[]>();
    let freed = 0;
    for (const { entry, bytes } of candidates) {
      if (this.#liveBytes - freed <= target) break;
      const list = byChannel.get(entry.channel) ?? [];
      list.push(entry);
      byChannel.set(entry.channel, list);
      freed += bytes;
    }
    const records: LogRecord[] = [];
    for (const [channel, items] of byChannel) {
      const previous = this.#folds(channel).find((f) => !this.#locked.has(f.id));
      const fold = foldItems(this.#nextId++, channel, items, previous);
      records.push({ t: "f", e: fold, absorbs: [...items.map((i) => i.id), ...(previous ? [previous.id] : [])] });
      this.folded += items.length;
    }
    if (records.length > 0) {
      this.#logger.warn(
        { folded: records.reduce((n, r) => n + (r.t === "f" ? r.absorbs.length : 0), 0), capBytes: this.#cap },
        "spool over its cap: the oldest alarms were folded into a summary",
      );
    }
    const committed = this.#commit(records);
    if (this.#liveBytes > this.#cap && !this.#overCapWarned) {
      this.#overCapWarned = true;
      this.#logger.warn({ liveBytes: this.#liveBytes, capBytes: this.#cap }, "spool still over its cap: what is left is being sent or already folded");
    }
    await committed;
  }

  #folds(channel: string): Fold[] {
    const out: Fold[] = [];
    for (const { entry } of this.#live.values()) if (entry.type === "fold" && entry.channel === channel) out.push(entry);
    return out;
  }

  /** A channel's pending entries: folds first (they are the oldest alarms), then items by age. */
  queue(channel: string): SpoolEntry[] {
    const folds: SpoolEntry[] = [];
    const items: SpoolEntry[] = [];
    for (const { entry } of this.#live.values()) {
      if (entry.channel !== channel) continue;
      (entry.type === "fold" ? folds : items).push(entry);
    }
    return [...folds, ...items.sort((a, b) => a.id - b.id)];
  }

  /** Channels that have pending entries. */
  channels(): Set<string> {
    return new Set([...this.#live.values()].map((l) => l.entry.channel));
  }

  /** Moves a channel's entries to another in memory (a channel removed from the configuration). */
  reroute(from: string, to: string): number {
    let moved = 0;
    for (const live of this.#live.values()) {
      if (live.entry.channel !== from) continue;
      live.entry = { ...live.entry, channel: to };
      moved++;
    }
    return moved;
  }

  lock(ids: readonly number[]): void {
    for (const id of ids) this.#locked.add(id);
  }

  unlock(ids: readonly number[]): void {
    for (const id of ids) this.#locked.delete(id);
  }

  pendingAlarms(): number {
    let n = 0;
    for (const { entry } of this.#live.values()) n += alarmsIn(entry);
    return n;
  }

  get liveBytes(): number {
    return this.#liveBytes;
  }

  get logStats(): SpoolLogStats | undefined {
    return this.#log?.stats;
  }

  async close(): Promise<void> {
    await this.#log?.close();
  }
}
