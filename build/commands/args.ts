/**
 * What every command shares: strict flag parsing (an unknown flag is a usage error) and a
 * human-readable logger for the terminal.
 */
import { Writable } from "node:stream";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { createLogger, type Logger } from "../../dispatcher/log.ts";

/** Bad usage: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Human-readable log lines on stderr for the CLI; the dispatcher itself logs JSON. */
export function cliLogger(): Logger {
  const stderr = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) {
        const rec = JSON.parse(line) as { level: number; msg?: string; err?: string };
        const level = rec.level >= 50 ? "error" : rec.level >= 40 ? "warning" : "info";
        process.stderr.write(`${level}: ${rec.msg ?? ""}${rec.err && rec.level >= 50 ? `\n${rec.err}` : ""}\n`);
      }
      done();
    },
  });
  return createLogger({ level: process.env.EDGE_ALARM_LOG_LEVEL ?? "info", destination: stderr });
}

/** A command: its usage lines and what it does. */
export interface Command {
  name: string;
  /** Lines for the help text, the first one starting with the command's synopsis. */
  usage: string;
  run(args: string[]): Promise<void>;
}
