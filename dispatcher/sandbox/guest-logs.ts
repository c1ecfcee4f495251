/**
 * Guest console lines as they travel in the glue envelope: a flat `[level, line, level, line…]`
 * array plus a count of lines dropped over the per-call limit.
 */
import { MAX_LOG_LINES } from "./options.ts";
import type { GuestLog, GuestLogLevel } from "./types.ts";

const LEVELS: ReadonlySet<string> = new Set<GuestLogLevel>(["log", "info", "warn", "error", "debug"]);

export function decodeLogs(flat: unknown, dropped: unknown): GuestLog[] {
  const logs: GuestLog[] = [];
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const level: unknown = flat[i];
      const message: unknown = flat[i + 1];
      if (typeof level === "string" && LEVELS.has(level) && typeof message === "string") {
        logs.push({ level: level as GuestLogLevel, message });
      }
    }
  }
  if (typeof dropped === "number" && dropped > 0) {
    logs.push({ level: "warn", message: `${dropped} more console line(s) dropped (at most ${MAX_LOG_LINES} per call)` });
  }
  return logs;
}
