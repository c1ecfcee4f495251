/**
 * @module Build failures rewritten into what a handler author should do about them. esbuild says
 * `Could not resolve "node:fs"`; the author needs to hear that handlers run in QuickJS and why.
 */
import { builtinModules } from "node:module";
import path from "node:path";
import type { Message } from "esbuild";

/** The one package specifier handlers may import. */
export const SDK_SPECIFIER = "edge-alarm/sdk";

/** Marks the esbuild messages that carry an import hint (set as the message's `detail`). */
export const IMPORT_HINT_DETAIL = "edge-alarm:import-hint";

const NODE_BUILTINS = new Set(builtinModules);

export function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || NODE_BUILTINS.has(specifier);
}

/** Why a handler may not import `specifier` (anything but the sdk and relative files). */
export function importHint(specifier: string): string {
  if (isNodeBuiltin(specifier)) {
    return (
      `${specifier} is not available to handlers: they run in a QuickJS sandbox with no file system, ` +
      "network or process access. Use the event and ctx instead."
    );
  }
  if (specifier.startsWith(`${SDK_SPECIFIER}/`) || specifier === "edge-alarm") {
    return `"${specifier}" cannot be imported: import everything from "${SDK_SPECIFIER}".`;
  }
  return (
    `"${specifier}" cannot be imported: handlers may import only "${SDK_SPECIFIER}" and relative files ` +
    '(e.g. "./lib/util.ts"), which are bundled into the handler at build time. npm packages are not ' +
    "bundled; copy the few functions you need into a relative file."
  );
}

/** A file as the user knows it: relative to the working directory when inside it, else absolute. */
export function displayPath(file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs);
  return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
}

/**
 * One esbuild message as `file:line:col: text` (import hints as `file:line: text`: the whole
 * import is at fault, not a column). `dir` is the build's working directory, which esbuild's
 * locations are relative to.
 */
export function formatBuildMessage(message: Message, dir: string): string {
  const loc = message.location;
  if (!loc) return message.text;
  const file = loc.namespace === "file" || loc.namespace === "" ? displayPath(path.resolve(dir, loc.file)) : loc.file;
  const where = message.detail === IMPORT_HINT_DETAIL ? `${file}:${loc.line}` : `${file}:${loc.line}:${loc.column + 1}`;
  return `${where}: ${message.text}`;
}

/** Every distinct message, in order (a helper imported by two handlers fails once, not twice). */
export function formatBuildMessages(messages: readonly Message[], dir: string): string[] {
  return [...new Set(messages.map((m) => formatBuildMessage(m, dir)))];
}
