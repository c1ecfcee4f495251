/**
 * The notification log (Alertmanager's nflog) in the state dir: a snapshot written atomically
 * plus an append-only journal of the records since, each record durable (fsync) before the
 * grouper acts on it. Appends that arrive while a write is in flight share the next write, so
 * a storm costs few fsyncs. The journal is folded into a new snapshot once it grows past a
 * bound; a crash between the two steps is harmless because records carry sequence numbers and
 * those already in the snapshot are skipped. A torn last line (power cut mid-append) is ignored.
 *
 * A snapshot is written group by group into a temporary file at the moment of the fold (so it
 * is exactly the state after one record), and synced and renamed in place later: the whole
 * state never exists as one string, which during a storm of thousands of members cost about
 * twice the state's JSON size at every fold.
 */
import { mkdir, open, rename, truncate, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log.ts";
import { jsonChunks, readIfExists, removeStaleTemps, stageFileSync, type StagedFile } from "../state/atomic-file.ts";
import { adoptState, applyRecord, buildStreamIndex, emptyState, type ApplyLimits, type GrouperState, type NflogRecord, type StreamIndex } from "./state.ts";

/** Where the log lives; a directory in the cluster, memory in tests. */
export interface NflogStore {
  read(): Promise<{ snapshot: string | undefined; journal: string }>;
  /** Resolves once `text` is durable. */
  append(text: string): Promise<void>;
  /**
   * Write the next snapshot from `chunks` now, synchronously (the caller's state goes on
   * changing), without putting it in place yet. Throws when it cannot be written.
   */
  stage(chunks: Iterable<string>): StagedFile;
  /** Put a staged snapshot in place atomically, then empty the journal. */
  compact(snapshot: StagedFile): Promise<void>;
  /** Set an unreadable snapshot aside so a start is not blocked by it. */
  setAside(): Promise<string>;
  close(): Promise<void>;
}

export const SNAPSHOT_FILE = "nflog.json";
export const JOURNAL_FILE = "nflog.journal";

export function fileNflogStore(dir: string): NflogStore {
  const snapshotFile = path.join(dir, SNAPSHOT_FILE);
  const journalFile = path.join(dir, JOURNAL_FILE);
  let handle: FileHandle | undefined;
  const journal = async (): Promise<FileHandle> => {
    if (!handle) {
      await mkdir(dir, { recursive: true });
      handle = await open(journalFile, "a");
    }
    return handle;
  };
  return {
    async read() {
      // A snapshot staged but never put in place before a crash is of no use.
      await removeStaleTemps(snapshotFile);
      return { snapshot: await readIfExists(snapshotFile), journal: (await readIfExists(journalFile)) ?? "" };
    },
    async append(text) {
      const h = await journal();
      await h.write(text);
      await h.datasync();
    },
    stage: (chunks) => stageFileSync(snapshotFile, chunks),
    async compact(snapshot) {
      await snapshot.commit();
      await (await journal()).truncate(0);
    },
    async setAside() {
      const aside = `${snapshotFile}.corrupt`;
      await rename(snapshotFile, aside);
      await truncate(journalFile, 0).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
      return aside;
    },
    async close() {
      await handle?.close();
      handle = undefined;
    },
  };
}

/** A store in memory whose `files` are exactly what a crash would leave on disk. */
export interface MemoryNflogStore extends NflogStore {
  files: { snapshot: string | undefined; journal: string };
}

export function memoryNflogStore(files: { snapshot: string | undefined; journal: string } = { snapshot: undefined, journal: "" }): MemoryNflogStore {
  const store: MemoryNflogStore = {
    files: { ...files },
    async read() {
      return { ...store.files };
    },
    async append(text) {
      store.files.journal += text;
    },
    stage(chunks) {
      const text = [...chunks].join("");
      return { bytes: Buffer.byteLength(text), commit: async () => void (store.files.snapshot = text), discard: async () => undefined };
    },
    async compact(snapshot) {
      await snapshot.commit();
      store.files.journal = "";
    },
    async setAside() {
      store.files = { snapshot: undefined, journal: "" };
      return "memory";
    },
    async close() {},
  };
  return store;
}

const VERSION = 1;

interface SnapshotFile {
  version: number;
  savedAt: string;
  state: GrouperState;
}

export interface LoadedLog {
  state: GrouperState;
  index: StreamIndex;
  /** Journal lines that could not be read (a torn tail after a power cut). */
  skipped: number;
}

export interface NflogOptions {
  store: NflogStore;
  logger: Logger;
  limits: ApplyLimits;
  /**
   * Fold the journal into the snapshot past this size, or past the last snapshot's size if that
   * is larger: each fold serialises the whole state, so a fixed bound would fold again and again
   * during a storm (measured: +14 MiB anonymous memory at the peak of 10,000 events), while a
   * bound proportional to the state keeps the folding cost amortised and the files within 2x the state.
   */
  maxJournalBytes?: number;
}

type Item = { kind: "lines"; text: string } | { kind: "snapshot"; staged: StagedFile };

/**
 * The snapshot file's text in pieces: the state's groups, channels and retired streams one by
 * one, the same text as JSON.stringify of the whole file.
 */
function* snapshotChunks(state: GrouperState): Generator<string> {
  yield `{"version":${VERSION},"savedAt":${JSON.stringify(new Date().toISOString())},"state":`;
  yield* jsonChunks(state, 2);
  yield "}";
}

export class NotificationLog {
  readonly #store: NflogStore;
  readonly #logger: Logger;
  readonly #maxJournalBytes: number;
  #journalBytes = 0;
  #snapshotBytes = 0;
  #queue: Item[] = [];
  #waiters: Array<(durable: boolean) => void> = [];
  #writing: Promise<void> | undefined;
  /** After a failed write the journal misses records: the next append writes a whole snapshot. */
  #resync = false;

  constructor(opts: NflogOptions) {
    this.#store = opts.store;
    this.#logger = opts.logger;
    this.#maxJournalBytes = opts.maxJournalBytes ?? 1_000_000;
  }

  /** Read the snapshot and the journal back into a state. */
  async load(limits: ApplyLimits): Promise<LoadedLog> {
    const { snapshot, journal } = await this.#store.read();
    let state = emptyState();
    this.#snapshotBytes = snapshot?.length ?? 0;
    if (snapshot !== undefined) {
      try {
        const parsed = JSON.parse(snapshot) as SnapshotFile;
        if (parsed.version !== VERSION || typeof parsed.state?.seq !== "number") throw new Error(`unsupported nflog version ${String(parsed.version)}`);
        state = adoptState(parsed.state);
      } catch (err) {
        const aside = await this.#store.setAside();
        this.#logger.warn({ file: aside, err: (err as Error).message }, "notification log unreadable; set aside, starting without it (groups may be notified again)");
        return { state: emptyState(), index: new Map(), skipped: 0 };
      }
    }
    const index = buildStreamIndex(state);
    let skipped = 0;
    const lines = journal.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line) continue;
      let rec: NflogRecord;
      try {
        rec = JSON.parse(line) as NflogRecord;
      } catch {
        // Only the last line can be torn; nothing after an unreadable line is trusted either.
        skipped = lines.slice(i).filter(Boolean).length;
        break;
      }
      if (rec.s <= state.seq) continue;
      applyRecord(state, index, rec, limits);
    }
    if (skipped) this.#logger.warn({ skipped }, "notification log: ignored a torn journal tail");
    this.#journalBytes = Buffer.byteLength(journal);
    return { state, index, skipped };
  }

  /**
   * Append a record; resolves true once it is durable, false when writing failed (logged here;
   * the caller goes on, alarms matter more than the log). `state` is the state right after this
   * record; it is written out only when the journal is due for folding into a snapshot.
   */
  append(rec: NflogRecord, state: GrouperState): Promise<boolean> {
    const line = `${JSON.stringify(rec)}\n`;
    this.#journalBytes += Buffer.byteLength(line);
    const snapshot = this.#resync || this.#journalBytes > Math.max(this.#maxJournalBytes, this.#snapshotBytes) ? this.#stage(state) : undefined;
    if (snapshot) {
      this.#resync = false;
      // The snapshot holds every record so far: queued appends (and an older snapshot) become unnecessary.
      for (const item of this.#queue) if (item.kind === "snapshot") this.#discard(item.staged);
      this.#queue = [{ kind: "snapshot", staged: snapshot }];
      this.#journalBytes = 0;
      this.#snapshotBytes = snapshot.bytes;
    } else {
      const last = this.#queue.at(-1);
      if (last?.kind === "lines") last.text += line;
      else this.#queue.push({ kind: "lines", text: line });
    }
    const done = new Promise<boolean>((resolve) => this.#waiters.push(resolve));
    this.#writing ??= this.#drain();
    return done;
  }

  /** Write a snapshot of `state`; undefined when that failed (the record then goes to the journal). */
  #stage(state: GrouperState): StagedFile | undefined {
    try {
      return this.#store.stage(snapshotChunks(state));
    } catch (err) {
      // Try again only after another bound's worth of journal: each try writes the whole state.
      this.#journalBytes = 0;
      this.#logger.error({ err: (err as Error).message }, "cannot write a notification log snapshot; the journal goes on growing");
      return undefined;
    }
  }

  #discard(staged: StagedFile): void {
    staged.discard().catch((err: unknown) => this.#logger.warn({ err: (err as Error).message }, "could not remove a superseded notification log snapshot"));
  }

  /** Wait for every append so far. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length) {
        const items = this.#queue;
        const waiters = this.#waiters;
        this.#queue = [];
        this.#waiters = [];
        try {
          for (const item of items) {
            if (item.kind === "snapshot") await this.#store.compact(item.staged);
            else await this.#store.append(item.text);
          }
          for (const w of waiters) w(true);
        } catch (err) {
          this.#resync = true;
          this.#logger.error({ err: (err as Error).message }, "cannot write the notification log; alarms go on, the next write saves a whole snapshot");
          for (const w of waiters) w(false);
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  /** Fold everything into a snapshot now (clean shutdown), then close the store. */
  async close(state: GrouperState): Promise<void> {
    await this.flush();
    await this.#store.compact(this.#store.stage(snapshotChunks(state)));
    await this.#store.close();
  }
}
