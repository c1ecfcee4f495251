/**
 * The spool's file: an append-only log of checksummed lines, `<crc32 hex> <json>\n`.
 *
 * Why a log and not an atomic rewrite per change: a rewrite costs the whole spool (up to 4 MiB)
 * per alarm, i.e. quadratic in the backlog on an SD card; a log costs each record once. Crash
 * safety comes from the format: every append is fsynced before the caller hears "durable", a
 * power cut can only tear the last line, and a torn or corrupt line fails its checksum and is
 * ignored on load (the file is cut back to the last whole line before new appends, so a new
 * record is never glued to a torn one). Records are idempotent (add by id, delete by id, fold
 * replaces by id), so replaying one twice after a compaction race is harmless.
 *
 * Compaction rewrites only the live records, atomically (temp file, fsync, rename, fsync dir),
 * when the log is more than twice the live size and over a floor; each appended byte is thus
 * rewritten about once at most. The records are written one by one into the temp file, so a
 * spool near its cap (4 MiB) is never copied into one string and one buffer on the way.
 */
import { mkdir, open, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import { removeStaleTemps, stageFileSync } from "../state/atomic-file.ts";

export interface LoadedLog {
  records: unknown[];
  /** Whole lines that failed their checksum or did not parse (skipped). */
  corrupt: number;
  /** Bytes of a torn last line cut off. */
  tornBytes: number;
}

export interface SpoolLogStats {
  fileBytes: number;
  appendedBytes: number;
  rewrittenBytes: number;
  fsyncs: number;
}

export function encodeRecord(record: unknown): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, "0")} ${json}\n`;
}

function decodeLine(line: string): { ok: true; record: unknown } | { ok: false } {
  const space = line.indexOf(" ");
  if (space !== 8) return { ok: false };
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, "0") !== line.slice(0, 8)) return { ok: false };
  try {
    return { ok: true, record: JSON.parse(json) };
  } catch {
    return { ok: false }; // a checksum collision on garbage: treat as corrupt
  }
}

export class SpoolLog {
  readonly #file: string;
  #handle: FileHandle | undefined;
  #pending: Array<{ text: string; resolve: () => void; reject: (err: unknown) => void }> = [];
  #flushQueued = false;
  /** File operations run one after another: appends, rewrites and close never interleave. */
  #tail: Promise<void> = Promise.resolve();
  readonly stats: SpoolLogStats = { fileBytes: 0, appendedBytes: 0, rewrittenBytes: 0, fsyncs: 0 };

  private constructor(file: string) {
    this.#file = file;
  }

  /** Opens (or creates) the log, reads every good record and cuts off a torn tail. */
  static async open(file: string): Promise<{ log: SpoolLog; loaded: LoadedLog }> {
    const log = new SpoolLog(file);
    const loaded: LoadedLog = { records: [], corrupt: 0, tornBytes: 0 };
    // A compaction a crash interrupted before its rename: the log itself is whole.
    await removeStaleTemps(file);
    let buffer = Buffer.alloc(0);
    try {
      const handle = await open(file, "r");
      try {
        buffer = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // Work on bytes: a torn multi-byte character must not shift the cut.
    let goodEnd = 0;
    for (let nl = buffer.indexOf(10); nl !== -1; nl = buffer.indexOf(10, goodEnd)) {
      const decoded = decodeLine(buffer.subarray(goodEnd, nl).toString("utf8"));
      if (decoded.ok) loaded.records.push(decoded.record);
      else loaded.corrupt++;
      goodEnd = nl + 1;
    }
    loaded.tornBytes = buffer.length - goodEnd;
    await mkdir(path.dirname(file), { recursive: true });
    log.#handle = await open(file, "a+");
    if (loaded.tornBytes > 0) {
      await log.#handle.truncate(goodEnd);
      await log.#handle.sync();
    }
    log.stats.fileBytes = goodEnd;
    return { log, loaded };
  }

  #run(op: () => Promise<void>): Promise<void> {
    const result = this.#tail.then(op);
    // The caller gets the error through `result`; the chain itself must go on.
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Appends encoded records; resolves once they are on disk. Appends made meanwhile share one fsync. */
  append(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ text, resolve, reject });
      if (this.#flushQueued) return;
      this.#flushQueued = true;
      void this.#run(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    this.#flushQueued = false;
    const batch = this.#pending.splice(0);
    try {
      if (this.#handle === undefined) throw new Error("spool log is closed");
      const text = batch.map((b) => b.text).join("");
      await this.#handle.appendFile(text);
      await this.#handle.datasync();
      const bytes = Buffer.byteLength(text, "utf8");
      this.stats.fileBytes += bytes;
      this.stats.appendedBytes += bytes;
      this.stats.fsyncs++;
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  /**
   * Replaces the log with `records` (the live records, encoded) atomically. They are taken when
   * the rewrite runs, after the appends queued before it, all at once (synchronously).
   */
  rewrite(records: () => Iterable<string>): Promise<void> {
    return this.#run(async () => {
      const staged = stageFileSync(this.#file, records());
      await this.#handle?.close();
      this.#handle = undefined;
      await staged.commit();
      this.#handle = await open(this.#file, "a+");
      this.stats.fileBytes = staged.bytes;
      this.stats.rewrittenBytes += staged.bytes;
      this.stats.fsyncs += 2;
    });
  }

  /** Size on disk, for tests. */
  async sizeOnDisk(): Promise<number> {
    return (await stat(this.#file)).size;
  }

  close(): Promise<void> {
    return this.#run(async () => {
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close();
    });
  }
}
