/**
 * @module Bundle each `DIR/*.ts` handler into one self-contained script for QuickJS, with the sdk
 * inlined, and check in a throwaway sandbox that the script exports a handler.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { handlerNameProblem, sha256Hex } from "../dispatcher/handlers-configmap.ts";
import { HANDLER_GLOBAL, validateBundle } from "../dispatcher/sandbox/index.ts";
import { UserError } from "./errors.ts";
import { displayPath, formatBuildMessages, IMPORT_HINT_DETAIL, importHint, SDK_SPECIFIER } from "./hints.ts";

export interface Bundle {
  /** The handler name: the file's base name, e.g. `default`. */
  name: string;
  /** The source file, relative to the working directory when inside it (see displayPath). */
  file: string;
  /** The IIFE script; it assigns the module's exports to the global HANDLER_GLOBAL. */
  code: string;
  /** Hex sha256 of `code` as UTF-8. */
  sha256: string;
  /** UTF-8 length of `code`. */
  bytes: number;
}

export interface BundleOptions {
  /** Receives each esbuild warning as `file:line:col: text`. Warnings do not fail the build. */
  onWarning?: (warning: string) => void;
}

/** This repo's sdk, wherever the handlers live (site repos are scaffolded elsewhere). */
export const SDK_DIR = fileURLToPath(new URL("../sdk/", import.meta.url));
export const SDK_ENTRY = path.join(SDK_DIR, "index.ts");

/**
 * The sdk is loaded from its own esbuild namespace rather than by an alias to its file path:
 * esbuild prints each module's path in a comment, and a path relative to DIR would differ
 * between checkouts, so the same handler would hash differently on every machine.
 */
const SDK_NAMESPACE = "edge-alarm-sdk";

/** Shared by every handler build; no minify, so bundles stay readable and diffable in Git. */
const ESBUILD_OPTIONS = {
  bundle: true,
  format: "iife",
  globalName: HANDLER_GLOBAL,
  platform: "neutral",
  // QuickJS 2024 runs ES2023; es2020 leaves margin and keeps the output plain.
  target: "es2020",
  minify: false,
  legalComments: "none",
  charset: "utf8",
  write: false,
  logLevel: "silent",
  // Ignore any tsconfig.json around DIR: output must depend on the sources alone.
  tsconfigRaw: {},
} satisfies esbuild.BuildOptions;

function isHandlerFile(base: string): boolean {
  return base.endsWith(".ts") && !base.endsWith(".d.ts") && !base.endsWith(".test.ts");
}

/**
 * The handler files of `dir` (top level only: helpers live in subfolders), sorted. Throws a
 * UserError when `dir` is missing, holds no handler, or a file name is not a valid handler name.
 */
export async function listHandlerFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    if (!(await stat(dir)).isDirectory()) throw new UserError(`${dir} is not a directory`);
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new UserError(`handler directory ${dir} does not exist`);
    throw err;
  }
  const files = entries
    .filter((e) => e.isFile() && isHandlerFile(e.name))
    .map((e) => e.name)
    .sort();
  if (files.length === 0) {
    throw new UserError(
      `no handlers in ${dir}: expected files like ${path.join(dir, "default.ts")} (not *.d.ts or *.test.ts)`,
    );
  }
  const problems = files.flatMap((base) => {
    const name = path.basename(base, ".ts");
    const bad = handlerNameProblem(name);
    return bad ? [`${displayPath(path.join(dir, base))}: the handler name "${name}" ${bad}`] : [];
  });
  if (problems.length > 0) {
    throw new UserError(`bad handler file names (the name becomes a ConfigMap key):\n${problems.join("\n")}`);
  }
  return files.map((base) => path.join(dir, base));
}

/** Resolve "edge-alarm/sdk" to this repo's sdk and refuse every other package import. */
function importPolicy(): esbuild.Plugin {
  return {
    name: "edge-alarm-imports",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.namespace === SDK_NAMESPACE) {
          return { errors: [{ text: `the sdk may import only its own files, not "${args.path}"` }] };
        }
        if (args.path === SDK_SPECIFIER) return { path: "index.ts", namespace: SDK_NAMESPACE };
        return { errors: [{ text: importHint(args.path), detail: IMPORT_HINT_DETAIL }] };
      });
      build.onResolve({ filter: /.*/, namespace: SDK_NAMESPACE }, (args) => ({
        path: path.posix.join(path.posix.dirname(args.importer), args.path),
        namespace: SDK_NAMESPACE,
      }));
      build.onLoad({ filter: /.*/, namespace: SDK_NAMESPACE }, async (args) => ({
        contents: await readFile(path.join(SDK_DIR, args.path), "utf8"),
        loader: "ts",
      }));
    },
  };
}

type BuildOutcome = { ok: true; bundle: Bundle } | { ok: false; errors: string[] };

async function bundleOne(file: string, dir: string, opts: BundleOptions): Promise<BuildOutcome> {
  const absDir = path.resolve(dir);
  let result;
  try {
    result = await esbuild.build({
      ...ESBUILD_OPTIONS,
      entryPoints: [path.resolve(file)],
      // Module path comments are relative to this, so they read `x.ts`, never a machine's path.
      absWorkingDir: absDir,
      plugins: [importPolicy()],
    });
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw err;
    return { ok: false, errors: formatBuildMessages(failure.errors, dir) };
  }
  for (const warning of formatBuildMessages(result.warnings, dir)) opts.onWarning?.(warning);
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild produced no output for ${file}`);
  const code = output.text;
  const bundle: Bundle = {
    name: path.basename(file, ".ts"),
    file: displayPath(file),
    code,
    sha256: sha256Hex(code),
    bytes: Buffer.byteLength(code, "utf8"),
  };
  return { ok: true, bundle };
}

/**
 * Bundle every handler in `dir`, sorted by name. Same sources, same bytes: no timestamps or
 * machine paths end up in a bundle, so `sha256` is stable. Every esbuild error of every file
 * is collected into one UserError, rewritten into hints (see hints.ts).
 */
export async function bundleHandlers(dir: string, opts: BundleOptions = {}): Promise<Bundle[]> {
  const files = await listHandlerFiles(dir);
  const outcomes = await Promise.all(files.map((file) => bundleOne(file, dir, opts)));
  const errors = [...new Set(outcomes.flatMap((o) => (o.ok ? [] : o.errors)))];
  if (errors.length > 0) {
    throw new UserError(`cannot bundle the handlers in ${dir}:\n${errors.map((e) => `  ${e}`).join("\n")}`);
  }
  return outcomes.flatMap((o) => (o.ok ? [o.bundle] : []));
}

/**
 * Load each bundle in a throwaway sandbox and check it exports a handler. One at a time: each
 * sandbox holds its own WebAssembly memory. Throws a UserError naming every failing file.
 */
export async function validateBundles(bundles: readonly Bundle[]): Promise<void> {
  const failures: string[] = [];
  for (const bundle of bundles) {
    const result = await validateBundle(bundle.name, bundle.code);
    if (!result.ok) failures.push(`  ${bundle.file}: ${result.error}`);
  }
  if (failures.length > 0) {
    // The sandbox's reasons already say what a handler module must export.
    throw new UserError(`these handlers do not load as handlers in the sandbox:\n${failures.join("\n")}`);
  }
}
