import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as esbuild from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { lazyUndiciHttp2Plugin } from "../../build/bundle-dispatcher.ts";
import { REPO_ROOT } from "../shared-data.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Bundle a program that uses the dispatcher's undici parts, run it, and list the node:http2 modules it loaded. */
async function http2ModulesLoaded(plugins: esbuild.Plugin[]): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-lazy-h2-"));
  dirs.push(dir);
  const out = path.join(dir, "probe.mjs");
  await esbuild.build({
    absWorkingDir: REPO_ROOT,
    stdin: {
      contents: `import { Agent } from "./dispatcher/undici.ts";
        new Agent({ allowH2: false });
        console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes("http2"))));`,
      resolveDir: REPO_ROOT,
      loader: "ts",
    },
    outfile: out,
    bundle: true,
    format: "esm",
    platform: "node",
    banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
    logLevel: "silent",
    plugins,
  });
  return JSON.parse(execFileSync(process.execPath, [out], { encoding: "utf8" })) as string[];
}

describe("lazyUndiciHttp2Plugin", () => {
  it("keeps node:http2 unloaded until a connection speaks HTTP/2 (without it undici loads it on import)", async () => {
    expect(await http2ModulesLoaded([])).toContain("NativeModule http2");
    expect(await http2ModulesLoaded([lazyUndiciHttp2Plugin()])).toEqual([]);
  });
});
