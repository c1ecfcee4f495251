/**
 * Real captured events live in ../shared/data/events beside the repository (see SOURCES.md
 * there). They are read in place and never copied into the repository.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const SHARED_EVENTS = process.env.EDGE_ALARM_SHARED_EVENTS ?? path.resolve(REPO_ROOT, "../shared/data/events");

/** Absolute path of a capture; throws a clear error when the shared folder is missing. */
export function capture(relative: string): string {
  const file = path.join(SHARED_EVENTS, relative);
  if (!existsSync(file)) {
    throw new Error(`real event capture ${relative} not found under ${SHARED_EVENTS}; these tests need ../shared/data/events beside the repository (or EDGE_ALARM_SHARED_EVENTS)`);
  }
  return file;
}

export function readCapture(relative: string): string {
  return readFileSync(capture(relative), "utf8");
}
