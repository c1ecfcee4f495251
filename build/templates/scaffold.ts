/**
 * @module The files `edge-alarm init` writes into a site repository. A site repo lives outside
 * this clone and has no npm dependency on it, so `package.json` scripts run this install's CLI
 * with this install's Node 24 by absolute path, and `tsconfig.json` maps "edge-alarm/sdk" to
 * this install's sdk (editors and `tsc -p` then see the same types `edge-alarm check` uses).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SDK_ENTRY } from "../bundle.ts";
import { SDK_SPECIFIER } from "../hints.ts";

const SITE_TEMPLATE = fileURLToPath(new URL("./site/", import.meta.url));
const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** One file to write: its path in the site and where its text comes from. */
export interface ScaffoldFile {
  path: string;
  text: string | { copyFrom: string };
}

/**
 * The console handlers may use (the sandbox forwards it to the dispatcher's log): ES2022 has no
 * console, and handlers must not see Node's or the DOM's. The same declaration `check` uses.
 */
const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"];
const ENV_DTS = [
  "// Globals the edge-alarm sandbox gives handlers beyond ES2022 (written by `edge-alarm init`).",
  "interface EdgeAlarmConsole {",
  ...CONSOLE_METHODS.map((m) => `  ${m}(...data: unknown[]): void;`),
  "}",
  "declare var console: EdgeAlarmConsole;",
  "",
].join("\n");

/** A shell word for npm scripts (sh -c): single-quoted unless plainly safe. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** An npm package name from a directory name: lowercase, URL-safe. */
function packageName(dir: string): string {
  return path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "edge-alarm-site";
}

export interface ScaffoldOptions {
  /** The Node that runs the CLI in the scripts; default this process's (Node 24). */
  node?: string;
}

/** Every file of a new site repository in `dir`. */
export function scaffoldFiles(dir: string, opts: ScaffoldOptions = {}): ScaffoldFile[] {
  const run = `${shellWord(opts.node ?? process.execPath)} ${shellWord(CLI)}`;
  const pkg = {
    name: packageName(dir),
    private: true,
    type: "module",
    description: "Alarm handlers for edge-alarm",
    scripts: {
      check: `${run} check handlers`,
      build: `${run} build handlers`,
      dev: `${run} dev handlers`,
    },
  };
  const tsconfig = {
    compilerOptions: {
      // The same settings `edge-alarm check` uses: what the QuickJS sandbox offers, nothing more.
      target: "ES2022",
      lib: ["ES2022"],
      types: [],
      module: "ESNext",
      moduleResolution: "Bundler",
      allowImportingTsExtensions: true,
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      paths: { [SDK_SPECIFIER]: [SDK_ENTRY] },
    },
    include: ["handlers", "edge-alarm-env.d.ts"],
  };
  return [
    { path: "handlers/default.ts", text: { copyFrom: path.join(SITE_TEMPLATE, "handlers/default.ts") } },
    { path: "README.md", text: { copyFrom: path.join(SITE_TEMPLATE, "README.md") } },
    { path: "edge-alarm-env.d.ts", text: ENV_DTS },
    { path: "package.json", text: `${JSON.stringify(pkg, null, 2)}\n` },
    { path: "tsconfig.json", text: `${JSON.stringify(tsconfig, null, 2)}\n` },
    { path: ".gitignore", text: "node_modules/\n*.log\n" },
  ];
}
