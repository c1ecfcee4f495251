import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHandlers } from "../../build/check.ts";
import { runCli } from "./dev/run-cli.ts";

describe("edge-alarm init", () => {
  let root: string;
  let site: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "edge-alarm-init-"));
    site = path.join(root, "my site");
    const run = await runCli(["init", site]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("wrote handlers/default.ts, README.md, edge-alarm-env.d.ts, package.json, tsconfig.json, .gitignore");
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("passes edge-alarm check straight away", async () => {
    const result = await checkHandlers(path.join(site, "handlers"));
    expect(result).toEqual({ ok: true, diagnostics: [] });
  });

  it("has npm scripts that check and build with this install, from any directory", () => {
    const pkg = JSON.parse(readFileSync(path.join(site, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(Object.keys(pkg.scripts)).toEqual(["check", "build", "dev"]);
    const env = { ...process.env, PATH: "/usr/bin:/bin" }; // no node_modules/.bin: the scripts must not need it
    const check = spawnSync("sh", ["-c", pkg.scripts.check ?? ""], { cwd: site, encoding: "utf8", env });
    expect(check.stderr).toContain("type-check against sdk");
    expect(check.status).toBe(0);
    const build = spawnSync("sh", ["-c", pkg.scripts.build ?? ""], { cwd: site, encoding: "utf8", env });
    expect(build.status, build.stderr).toBe(0);
    expect(build.stdout).toMatch(/^kind: ConfigMap$/m);
    expect(build.stdout).toContain("default.js: |");
  }, 60_000);

  it("has a tsconfig under which tsc resolves edge-alarm/sdk and finds no error", () => {
    const file = path.join(site, "tsconfig.json");
    const parsed = ts.getParsedCommandLineOfConfigFile(file, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); } });
    if (!parsed) throw new Error("tsconfig did not parse");
    expect(parsed.fileNames.map((f) => path.relative(site, f)).sort()).toEqual(["edge-alarm-env.d.ts", "handlers/default.ts"]);
    const program = ts.createProgram(parsed.fileNames, parsed.options);
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diagnostics).toEqual([]);
    // And it really type-checks: a wrong call is an error under the same config.
    const host = ts.createCompilerHost(parsed.options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (f, language, ...rest) =>
      f.endsWith("default.ts")
        ? ts.createSourceFile(f, "import { md } from 'edge-alarm/sdk';\nmd(42);\nconsole.log(process.env);\n", language)
        : getSourceFile(f, language, ...rest);
    const broken = ts.createProgram([...parsed.fileNames], parsed.options, host);
    const errors = ts.getPreEmitDiagnostics(broken).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(errors.join("\n")).toMatch(/number.*TemplateStringsArray/);
    expect(errors.join("\n")).toMatch(/Cannot find name 'process'/);
  });

  it("keeps existing files unless --force", async () => {
    const handler = path.join(site, "handlers/default.ts");
    await writeFile(handler, "// mine\n");
    const again = await runCli(["init", site]);
    expect(again.stderr).toContain("kept existing handlers/default.ts");
    expect(await readFile(handler, "utf8")).toBe("// mine\n");
    await runCli(["init", site, "--force"]);
    expect(await readFile(handler, "utf8")).toContain("defineHandler");
  });
});
