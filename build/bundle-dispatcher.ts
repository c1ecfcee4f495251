/**
 * @module The image payload: `edge-alarm run` bundled by esbuild into `edge-alarm.js`, the
 * sandbox worker entry next to it (`sandbox-worker.js`), shared chunks, QuickJS's `.wasm`, and a
 * package.json that makes the `.js` files ES modules.
 * Nothing else is needed at run time: no node_modules, no TypeScript.
 *
 * Why a bundle: measured in ../shared/docs/sandbox-and-client.md §6, bundling and minifying
 * halves the anonymous memory of the same imports (81 → 39 MiB) and cuts start-up from 640 to
 * 240 ms. Code splitting keeps @kubernetes/client-node (dynamically imported by the kubeconfig
 * path only) in a chunk that an in-cluster dispatcher never loads.
 *
 *   npx node build/bundle-dispatcher.ts [--out DIR]    (default: dist)
 */
import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { BUNDLED_WASM_FILE } from "../dispatcher/sandbox/quickjs-module.ts";
import { BUNDLED_WORKER_FILE } from "../dispatcher/sandbox/worker-host.ts";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * The sandbox looks for its worker entry and its .wasm next to the module it is bundled into
 * (dispatcher/sandbox: BUNDLED_WORKER_FILE, BUNDLED_WASM_FILE), so every output file shares one
 * directory and the worker's extension: `.js`, made ESM by a package.json with "type": "module".
 */
const EXT = path.extname(BUNDLED_WORKER_FILE);
if (EXT !== ".js") throw new Error(`bundle-dispatcher expects the sandbox worker file to end in .js, not ${BUNDLED_WORKER_FILE}`);

/** File names inside the output directory. */
export const BUNDLE_FILES = {
  main: `edge-alarm${EXT}`,
  worker: BUNDLED_WORKER_FILE,
  wasm: BUNDLED_WASM_FILE,
  packageJson: "package.json",
} as const;

const VIRTUAL_ENTRY = "edge-alarm:run-entry";

/**
 * The image's entry: only `run` (the other commands pull in esbuild and TypeScript, which the
 * image neither has nor should load). Exit codes follow build/cli.ts: 1 for the user's mistakes
 * (bad configuration), 2 for bad usage.
 */
const ENTRY_SOURCE = `
import { runCommand } from "./build/commands/run.ts";
import { UsageError } from "./build/commands/args.ts";
import { isUserError } from "./build/errors.ts";
const [command, ...args] = process.argv.slice(2);
if (command !== "run") {
  process.stderr.write("usage: edge-alarm.js run [--kubeconfig FILE]\\n(this is the bundled dispatcher; the other commands are in the npm package)\\n");
  process.exitCode = 2;
} else {
  try {
    await runCommand.run(args);
  } catch (err) {
    if (err instanceof UsageError) { process.stderr.write("edge-alarm: " + err.message + "\\n"); process.exitCode = 2; }
    else if (isUserError(err)) { process.stderr.write("edge-alarm: " + err.message + "\\n"); process.exitCode = 1; }
    else throw err;
  }
}
`;

/** The `run` entry as a virtual module, so the image needs no entry file of its own in the repo. */
function runEntryPlugin(): esbuild.Plugin {
  return {
    name: "edge-alarm-run-entry",
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${VIRTUAL_ENTRY}$`) }, () => ({ path: VIRTUAL_ENTRY, namespace: "edge-alarm-entry" }));
      build.onLoad({ filter: /.*/, namespace: "edge-alarm-entry" }, () => ({ contents: ENTRY_SOURCE, loader: "ts", resolveDir: REPO_ROOT }));
    },
  };
}

export interface BundleDispatcherOptions {
  /** Output directory; emptied first. */
  outDir: string;
  /** Minify (default true: the memory figures assume it). */
  minify?: boolean;
}

export interface BundledDispatcher {
  outDir: string;
  /** Absolute path of the entry (`node <main> run`). */
  main: string;
  /** Output files with their sizes in bytes, sorted by name. */
  files: Array<{ name: string; bytes: number }>;
  /** Bytes of output per npm package that an in-cluster start loads. */
  packages: Record<string, number>;
  /** Bytes of output per npm package loaded only with a kubeconfig (out of the cluster). */
  lazyPackages: Record<string, number>;
}

/** The line in undici's client.js that loads its HTTP/2 half, and with it node:http2, on import. */
const UNDICI_EAGER_H2 = "const connectH2 = require('./client-h2.js')";

/**
 * undici loads node:http2 when it is imported (+4.9 MiB anonymous memory, +6 MiB RSS in a bare
 * Node 24), although the dispatcher's clients never speak HTTP/2 (`allowH2: false`). In the
 * bundle, client.js requires its HTTP/2 half on first use instead; nothing else changes.
 * Fails the build when undici's source no longer has that line, so an upgrade cannot silently
 * bring the cost back.
 */
export function lazyUndiciHttp2Plugin(): esbuild.Plugin {
  return {
    name: "edge-alarm-lazy-undici-http2",
    setup(build) {
      build.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        if (!source.includes(UNDICI_EAGER_H2)) {
          return { errors: [{ text: `undici changed: "${UNDICI_EAGER_H2}" is not in ${args.path}; update lazyUndiciHttp2Plugin in build/bundle-dispatcher.ts` }] };
        }
        const lazy = "let connectH2Loaded; const connectH2 = (...args) => (connectH2Loaded ??= require('./client-h2.js'))(...args)";
        return { contents: source.replace(UNDICI_EAGER_H2, lazy), loader: "js" };
      });
    },
  };
}

/** The package a bundled input file belongs to, or "(edge-alarm)" for this repo's sources. */
function packageOf(input: string): string {
  const parts = input.split("node_modules/");
  const rest = parts[parts.length - 1];
  if (parts.length === 1 || rest === undefined) return "(edge-alarm)";
  const segments = rest.split("/");
  return segments[0]?.startsWith("@") ? `${segments[0]}/${segments[1]}` : (segments[0] ?? rest);
}

export async function bundleDispatcher(opts: BundleDispatcherOptions): Promise<BundledDispatcher> {
  const outDir = path.resolve(opts.outDir);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const version = (JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [
      { in: VIRTUAL_ENTRY, out: "edge-alarm" },
      { in: path.join(REPO_ROOT, "dispatcher/sandbox/worker.ts"), out: path.basename(BUNDLE_FILES.worker, EXT) },
    ],
    outdir: outDir,
    // Chunks sit next to the entry: the sandbox finds its worker and .wasm relative to the chunk it is in.
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node24",
    minify: opts.minify ?? true,
    // Maps are written but only read with NODE_OPTIONS=--enable-source-maps, when debugging.
    sourcemap: "linked",
    legalComments: "linked",
    metafile: true,
    logLevel: "silent",
    // pino, undici and yaml ship CommonJS that calls require() for Node built-ins.
    banner: { js: 'import { createRequire as __edgeAlarmCreateRequire } from "node:module"; const require = __edgeAlarmCreateRequire(import.meta.url);' },
    define: { __EDGE_ALARM_VERSION__: JSON.stringify(version) },
    plugins: [runEntryPlugin(), lazyUndiciHttp2Plugin()],
  });
  for (const w of result.warnings) process.stderr.write(`warning: ${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ""}\n`);

  const wasmSource = fileURLToPath(import.meta.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"));
  await copyFile(wasmSource, path.join(outDir, BUNDLE_FILES.wasm));
  await writeFile(path.join(outDir, BUNDLE_FILES.packageJson), `${JSON.stringify({ name: "edge-alarm-dispatcher", version, private: true, type: "module" }, null, 2)}\n`);

  const files: Array<{ name: string; bytes: number }> = [];
  for (const out of [...Object.keys(result.metafile.outputs).map((o) => path.resolve(REPO_ROOT, o)), path.join(outDir, BUNDLE_FILES.wasm), path.join(outDir, BUNDLE_FILES.packageJson)]) {
    files.push({ name: path.relative(outDir, out), bytes: (await stat(out)).size });
  }
  files.sort((a, b) => a.name.localeCompare(b.name));

  const outputs = result.metafile.outputs;
  const holds = (name: string, pkg: string) => Object.keys(outputs[name]?.inputs ?? {}).some((i) => packageOf(i) === pkg);
  const mainOutput = Object.keys(outputs).find((o) => outputs[o]?.entryPoint === `edge-alarm-entry:${VIRTUAL_ENTRY}`);
  if (!mainOutput) throw new Error("esbuild produced no output for the run entry");
  // What an in-cluster start loads: everything reachable from the entry except the client-node
  // chunk, which only the kubeconfig path imports (dispatcher/kube/client.ts).
  const reach = (from: string, skip: (name: string) => boolean): Set<string> => {
    const seen = new Set<string>();
    const visit = (name: string): void => {
      if (seen.has(name) || skip(name)) return;
      seen.add(name);
      for (const imp of outputs[name]?.imports ?? []) if (!imp.external) visit(imp.path);
    };
    visit(from);
    return seen;
  };
  const inCluster = reach(mainOutput, (name) => holds(name, "@kubernetes/client-node"));
  const everything = reach(mainOutput, () => false);
  const tally = (names: Iterable<string>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const name of names) {
      for (const [input, { bytesInOutput }] of Object.entries(outputs[name]?.inputs ?? {})) {
        const pkg = packageOf(input);
        out[pkg] = (out[pkg] ?? 0) + bytesInOutput;
      }
    }
    return out;
  };
  const packages = tally(inCluster);
  const lazyPackages = tally([...everything].filter((n) => !inCluster.has(n)));
  return { outDir, main: path.join(outDir, BUNDLE_FILES.main), files, packages, lazyPackages };
}

async function cli(argv: string[]): Promise<void> {
  const outIndex = argv.indexOf("--out");
  const outDir = outIndex >= 0 ? argv[outIndex + 1] : path.join(REPO_ROOT, "dist");
  if (!outDir || argv.some((a, i) => a !== "--out" && i !== outIndex + 1)) {
    process.stderr.write("usage: node build/bundle-dispatcher.ts [--out DIR]\n");
    process.exitCode = 2;
    return;
  }
  const built = await bundleDispatcher({ outDir });
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  process.stdout.write(`bundled edge-alarm run → ${path.relative(process.cwd(), built.main) || built.main}\n`);
  for (const f of built.files.filter((f) => !f.name.endsWith(".map"))) process.stdout.write(`  ${f.name.padEnd(40)} ${kib(f.bytes)}\n`);
  const table = (title: string, sizes: Record<string, number>) => {
    process.stdout.write(`${title}\n`);
    for (const [pkg, bytes] of Object.entries(sizes).sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${pkg.padEnd(40)} ${kib(bytes)}\n`);
  };
  table("loaded by an in-cluster start, by package:", built.packages);
  table("loaded only with --kubeconfig:", built.lazyPackages);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await cli(process.argv.slice(2));
}
