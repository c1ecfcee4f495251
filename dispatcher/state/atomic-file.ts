/**
 * Crash-safe files: write to a temporary file, fsync it, rename over the target and fsync the
 * directory, so a power cut leaves either the old or the new content, never a torn mix.
 */
import { closeSync, fsync as fsyncCb, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const fsync = promisify(fsyncCb);

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await renameDurably(tmp, file);
}

async function renameDurably(tmp: string, file: string): Promise<void> {
  await rename(tmp, file);
  const dir = await open(path.dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A new version of a file, written under a temporary name and not yet in place. */
export interface StagedFile {
  readonly bytes: number;
  /** fsync it, rename it over the target and fsync the directory. */
  commit(): Promise<void>;
  /** Remove it (a newer version superseded it). */
  discard(): Promise<void>;
}

/** Pieces are gathered up to this size before each write: few syscalls, no big string. */
const WRITE_CHUNK_CHARS = 64 * 1024;
let stagedCount = 0;

/**
 * Write `chunks` to a temporary file next to `file`, synchronously: the content is the state of
 * this moment even when the caller's state changes while the file is synced and renamed, and the
 * whole content never exists as one string or buffer (a large state costs one chunk of memory,
 * not two copies of itself). The page cache takes the writes; the slow part (fsync) is in `commit`.
 */
export function stageFileSync(file: string, chunks: Iterable<string>): StagedFile {
  mkdirSync(path.dirname(file), { recursive: true });
  // Unique: an older staged version may still be syncing when a newer one is written.
  const tmp = `${file}.${process.pid}-${++stagedCount}.tmp`;
  const fd = openSync(tmp, "w");
  let bytes = 0;
  // One buffer for every write (a new one each time would be garbage outside the heap until a GC).
  const scratch = Buffer.allocUnsafeSlow(WRITE_CHUNK_CHARS * 3);
  try {
    const write = (text: string) => {
      const buf = Buffer.byteLength(text, "utf8") <= scratch.length ? scratch.subarray(0, scratch.write(text, "utf8")) : Buffer.from(text, "utf8");
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
      bytes += buf.length;
    };
    let pending = "";
    for (const chunk of chunks) {
      pending += chunk;
      if (pending.length >= WRITE_CHUNK_CHARS) {
        write(pending);
        pending = "";
      }
    }
    if (pending) write(pending);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  let closed = false;
  const close = () => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  return {
    bytes,
    async commit() {
      try {
        try {
          await fsync(fd);
        } finally {
          close();
        }
        await renameDurably(tmp, file);
      } catch (err) {
        // Leave no temp file behind (gone already if only the directory sync failed); the caller hears the first error.
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    },
    async discard() {
      close();
      await unlink(tmp);
    },
  };
}

/** Remove temporary files a crash left next to `file` (a stage that was never committed). */
export async function removeStaleTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const name of names) if (name.startsWith(prefix) && name.endsWith(".tmp")) await unlink(path.join(dir, name));
}

/**
 * JSON text of `value` in pieces, the same text as JSON.stringify(value) for plain data: objects
 * down to `depth` levels are split entry by entry, deeper values are stringified whole.
 */
export function* jsonChunks(value: unknown, depth: number): Generator<string> {
  if (depth <= 0 || typeof value !== "object" || value === null || Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === "function") {
    yield JSON.stringify(value);
    return;
  }
  yield "{";
  let first = true;
  for (const [key, v] of Object.entries(value)) {
    // JSON.stringify leaves these properties out.
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    yield `${first ? "" : ","}${JSON.stringify(key)}:`;
    first = false;
    yield* jsonChunks(v, depth - 1);
  }
  yield "}";
}

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
