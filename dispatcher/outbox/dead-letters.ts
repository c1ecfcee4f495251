/**
 * The record of messages a channel refused for good: one JSON line each in
 * `<stateDir>/outbox/dead-letters.jsonl`, with the code and msg, the channel, fingerprints and
 * origin, never the URL or a secret. The file is rotated to `.1` past 1 MiB, so it stays small
 * on an edge node whatever a broken handler does.
 */
import { appendFile, mkdir, rename, stat } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log.ts";

export interface DeadLetter {
  time: string;
  channel: string;
  /** alarm, self-alarm, fold or digest. */
  kind: string;
  code: number | null;
  msg: string;
  httpStatus?: number;
  fingerprints: string[];
  alarms: number;
  title: string;
  handler?: string;
  eventUid?: string;
}

const ROTATE_BYTES = 1024 * 1024;

export interface DeadLetters {
  /** Logs the letter and appends it to the file; never rejects (a failed write is logged). */
  write(letter: DeadLetter): Promise<void>;
}

export function createDeadLetters(stateDir: string | undefined, logger: Logger): DeadLetters {
  const file = stateDir === undefined ? undefined : path.join(stateDir, "outbox", "dead-letters.jsonl");
  let chain: Promise<void> = Promise.resolve();
  return {
    write(letter) {
      logger.error({ deadLetter: letter }, `channel ${letter.channel} refused a ${letter.kind} for good (code ${letter.code ?? "none"}: ${letter.msg})`);
      if (file === undefined) return Promise.resolve();
      const next = chain.then(async () => {
        await mkdir(path.dirname(file), { recursive: true });
        const size = await stat(file).then((s) => s.size, (err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return 0;
          throw err;
        });
        if (size > ROTATE_BYTES) await rename(file, `${file}.1`);
        await appendFile(file, `${JSON.stringify(letter)}\n`);
      });
      // The letter is already in the log line above; a failed file write must not stop the outbox.
      chain = next.catch((err: unknown) => logger.error({ err }, "could not write the dead-letter record"));
      return chain;
    },
  };
}
