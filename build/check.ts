/**
 * @module `edge-alarm check`: type-check handlers against the sdk the way they will run. Strict,
 * ES2022 library only (no DOM, no @types/node: handlers get neither), "edge-alarm/sdk" mapped to
 * this repo's sdk wherever the handlers live, and each default export checked against `Handler`.
 */
import path from "node:path";
import ts from "typescript";
import { listHandlerFiles, SDK_ENTRY } from "./bundle.ts";
import { displayPath, importHint, SDK_SPECIFIER } from "./hints.ts";

export interface CheckResult {
  ok: boolean;
  /** `file:line:col - error TSxxxx: message`, in program order. */
  diagnostics: string[];
}

/** What the sandbox gives a handler beyond ES2022: console.* is forwarded to the dispatcher's log. */
const GLOBALS_FILE = "edge-alarm-globals.d.ts";
const GLOBALS = `
interface EdgeAlarmConsole {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
}
declare var console: EdgeAlarmConsole;
`;

const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2022.d.ts"],
  // No automatic @types/*: a handler that uses Node must fail here, not in the sandbox.
  types: [],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  paths: { [SDK_SPECIFIER]: [SDK_ENTRY] },
  skipLibCheck: true,
  forceConsistentCasingInFileNames: true,
};

/**
 * A virtual module per handler that assigns its default export to a `Handler`, so TypeScript
 * itself explains a mismatch ("Property 'handle' is missing ..."). Never written to disk.
 */
function probeFileFor(handlerFile: string): string {
  return path.join(path.dirname(handlerFile), `.edge-alarm-check.${path.basename(handlerFile)}`);
}

function probeSource(handlerFile: string): string {
  return [
    `import type { Handler } from ${JSON.stringify(SDK_SPECIFIER)};`,
    `import handler from ${JSON.stringify(handlerFile)};`,
    "export const checked: Handler = handler;",
    "",
  ].join("\n");
}

function createHost(virtual: ReadonlyMap<string, string>): ts.CompilerHost {
  const host = ts.createCompilerHost(COMPILER_OPTIONS);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => virtual.has(path.resolve(file)) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(path.resolve(file)) ?? readFile.call(host, file);
  host.getSourceFile = (file, languageVersion, onError, shouldCreate) => {
    const text = virtual.get(path.resolve(file));
    if (text !== undefined) return ts.createSourceFile(file, text, languageVersion, true);
    return getSourceFile.call(host, file, languageVersion, onError, shouldCreate);
  };
  return host;
}

function position(file: ts.SourceFile, start: number | undefined): string {
  const { line, character } = file.getLineAndCharacterOfPosition(start ?? 0);
  return `${displayPath(file.fileName)}:${line + 1}:${character + 1}`;
}

/** TypeScript's "Cannot find module" says nothing about why a package is not there for handlers. */
const CANNOT_FIND_MODULE = 2307;
/** "Cannot find name 'process'. Do you need to install type definitions for node / include 'dom'?" */
const HOST_GLOBAL_SUGGESTIONS = new Set([2580, 2584, 2591]);
const NO_DEFAULT_EXPORT = new Set([1192, 2613]);

function explain(d: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  const global = HOST_GLOBAL_SUGGESTIONS.has(d.code) ? /^Cannot find name '([^']+)'/.exec(message)?.[1] : undefined;
  if (global !== undefined) {
    // TypeScript would suggest installing @types/node, which is exactly wrong for a handler.
    return (
      `Cannot find name '${global}': handlers run in a QuickJS sandbox without Node or browser globals ` +
      "(no process, require, fetch or timers). Use the event and ctx instead."
    );
  }
  const specifier = d.code === CANNOT_FIND_MODULE ? /^Cannot find module '([^']+)'/.exec(message)?.[1] : undefined;
  if (specifier !== undefined && !specifier.startsWith(".") && !path.isAbsolute(specifier)) {
    return `${message} ${importHint(specifier)}`;
  }
  return message;
}

function formatDiagnostic(d: ts.Diagnostic, where: string | undefined, message = explain(d)): string {
  const category = ts.DiagnosticCategory[d.category].toLowerCase();
  return `${where ? `${where} - ` : ""}${category} TS${d.code}: ${message}`;
}

/** A probe failure is the handler's fault: say what its default export should be. */
function explainProbe(d: ts.Diagnostic): string {
  const expected = "a handler module must `export default defineHandler({ handle(event, ctx) { … } })`";
  if (NO_DEFAULT_EXPORT.has(d.code)) return `no default export; ${expected}`;
  return `the default export is not a Handler (${expected}): ${explain(d)}`;
}

/** Where a handler's default export starts, for reporting a probe failure against the handler. */
function defaultExportStart(file: ts.SourceFile): number {
  for (const statement of file.statements) {
    if (ts.isExportAssignment(statement) && !statement.isExportEquals) return statement.getStart(file);
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) return statement.getStart(file);
  }
  return 0;
}

/** Type-check every handler of `dir`. Throws a UserError when `dir` holds no handler. */
export async function checkHandlers(dir: string): Promise<CheckResult> {
  const handlerFiles = (await listHandlerFiles(dir)).map((f) => path.resolve(f));
  const globalsFile = path.resolve(dir, GLOBALS_FILE);
  const probes = new Map(handlerFiles.map((f) => [probeFileFor(f), f]));
  const virtual = new Map<string, string>([[globalsFile, GLOBALS]]);
  for (const [probe, handler] of probes) virtual.set(probe, probeSource(handler));

  const program = ts.createProgram({
    rootNames: [globalsFile, ...handlerFiles, ...probes.keys()],
    options: COMPILER_OPTIONS,
    host: createHost(virtual),
  });
  const found = ts.getPreEmitDiagnostics(program);
  const located = found.map((d) => {
    if (d.file === undefined) return { file: "", pos: 0, text: formatDiagnostic(d, undefined) };
    const handlerFile = probes.get(path.resolve(d.file.fileName));
    const handlerSource = handlerFile === undefined ? undefined : program.getSourceFile(handlerFile);
    if (handlerSource === undefined) {
      return { file: d.file.fileName, pos: d.start ?? 0, text: formatDiagnostic(d, position(d.file, d.start)) };
    }
    const pos = defaultExportStart(handlerSource);
    return { file: handlerSource.fileName, pos, text: formatDiagnostic(d, position(handlerSource, pos), explainProbe(d)) };
  });
  // By file and position, so a handler's own errors and its probe's read together.
  located.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.pos - b.pos));
  const diagnostics = located.map((l) => l.text);
  const ok = !found.some((d) => d.category === ts.DiagnosticCategory.Error);
  return { ok, diagnostics };
}
