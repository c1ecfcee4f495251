/**
 * @module Handler bundles for `edge-alarm dev`, with source maps. `bundleHandlers` runs first, so
 * dev reports exactly the errors and hints `build` would; the code dev loads into its sandbox is
 * then bundled once more with an external source map (same format and target), which is what
 * maps a QuickJS stack position back to the handler's .ts line.
 */
import path from "node:path";
import * as esbuild from "esbuild";
import { HANDLER_GLOBAL } from "../../dispatcher/sandbox/index.ts";
import { bundleHandlers, SDK_ENTRY } from "../bundle.ts";

export interface DevBundle {
  name: string;
  /** The handler's source file (absolute). */
  file: string;
  code: string;
  /** The source map as JSON text; its sources are absolute paths. */
  map: string;
}

/** edge-alarm/sdk → this install's sdk files; other imports were already refused by bundleHandlers. */
const sdkAlias: esbuild.Plugin = {
  name: "edge-alarm-dev-sdk",
  setup(build) {
    build.onResolve({ filter: /^edge-alarm\/sdk$/ }, () => ({ path: SDK_ENTRY }));
  },
};

async function mapped(file: string, name: string): Promise<DevBundle> {
  const dir = path.dirname(file);
  const result = await esbuild.build({
    entryPoints: [file],
    outfile: path.join(dir, `${name}.js`),
    bundle: true,
    format: "iife",
    globalName: HANDLER_GLOBAL,
    platform: "neutral",
    target: "es2020",
    charset: "utf8",
    write: false,
    logLevel: "silent",
    tsconfigRaw: {},
    sourcemap: "external",
    sourcesContent: false,
    absWorkingDir: dir,
    plugins: [sdkAlias],
  });
  const code = result.outputFiles.find((f) => f.path.endsWith(".js"))?.text;
  const mapText = result.outputFiles.find((f) => f.path.endsWith(".js.map"))?.text;
  if (code === undefined || mapText === undefined) throw new Error(`esbuild produced no code or map for ${file}`);
  // Sources are relative to the output's folder; absolute paths let the mapper print them as the user knows them.
  const map = JSON.parse(mapText) as { sources: string[] };
  map.sources = map.sources.map((s) => path.resolve(dir, s));
  return { name, file, code, map: JSON.stringify(map) };
}

/**
 * Bundle every handler of `dir` for dev. Throws the UserError `build` would throw (every problem
 * of every file, with hints) when a handler does not bundle.
 */
export async function devBundles(dir: string): Promise<DevBundle[]> {
  const checked = await bundleHandlers(dir);
  return Promise.all(checked.map((b) => mapped(path.resolve(b.file), b.name)));
}
