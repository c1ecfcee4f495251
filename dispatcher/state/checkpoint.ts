/**
 * The occurrence memory on disk, so a restarted dispatcher neither re-alarms what it already
 * handled nor misses what happened while it was down. Saved at most once per `debounceMs`
 * and on shutdown.
 */
import { rename } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log.ts";
import type { OccurrenceEntry, Occurrences } from "../pipeline/occurrences.ts";
import { readIfExists, removeStaleTemps, stageFileSync } from "./atomic-file.ts";

const VERSION = 1;

interface CheckpointFile {
  version: number;
  savedAt: string;
  entries: OccurrenceEntry[];
}

export interface LoadedCheckpoint {
  savedAt: string;
  entries: OccurrenceEntry[];
}

/** The checkpoint file's text in pieces, the same text as JSON.stringify of a CheckpointFile. */
function* checkpointChunks(occurrences: Occurrences): Generator<string> {
  yield `{"version":${VERSION},"savedAt":${JSON.stringify(new Date().toISOString())},"entries":[`;
  let first = true;
  for (const entry of occurrences.values()) {
    yield `${first ? "" : ","}${JSON.stringify(entry)}`;
    first = false;
  }
  yield "]}";
}

export class Checkpoint {
  readonly file: string;
  readonly #logger: Logger;
  readonly #debounceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();

  constructor(stateDir: string, logger: Logger, debounceMs = 1000) {
    this.file = path.join(stateDir, "occurrences.json");
    this.#logger = logger;
    this.#debounceMs = debounceMs;
  }

  /** The saved entries, or undefined when there is no usable checkpoint (a corrupt one is set aside). */
  async load(): Promise<LoadedCheckpoint | undefined> {
    await removeStaleTemps(this.file);
    const text = await readIfExists(this.file);
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as CheckpointFile;
      if (parsed.version !== VERSION || !Array.isArray(parsed.entries)) throw new Error(`unsupported checkpoint version ${String(parsed.version)}`);
      return { savedAt: parsed.savedAt, entries: parsed.entries.filter((e) => typeof e?.key === "string") };
    } catch (err) {
      const aside = `${this.file}.corrupt`;
      await rename(this.file, aside);
      this.#logger.warn({ file: aside, err: (err as Error).message }, "checkpoint unreadable; moved aside, starting without it");
      return undefined;
    }
  }

  /** Save soon; repeated calls within the debounce window coalesce into one write. */
  schedule(occurrences: Occurrences): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.save(occurrences);
    }, this.#debounceMs);
  }

  /** Save now (after any save in flight). Failures are logged, never thrown: alarms go on. */
  async save(occurrences: Occurrences): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#saving = this.#saving.then(async () => {
      try {
        // Written entry by entry at one moment: during a storm the memory holds 20,000 entries,
        // and a whole-file string (plus its write buffer) every second would cost megabytes.
        await stageFileSync(this.file, checkpointChunks(occurrences)).commit();
      } catch (err) {
        this.#logger.error({ err: (err as Error).message, file: this.file }, "cannot save checkpoint");
      }
    });
    return this.#saving;
  }
}
