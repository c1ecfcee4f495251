import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bundleHandlers, listHandlerFiles, validateBundles } from "../../build/bundle.ts";
import { UserError } from "../../build/errors.ts";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { normalizeEvent } from "../../sdk/index.ts";
import { handlerDir } from "./temp-dir.ts";

const HANDLERS = "handlers";
const MINIMAL = `import { defineHandler } from "edge-alarm/sdk";
export default defineHandler({ handle: () => null });
`;

async function bundleError(dir: string): Promise<UserError> {
  const err = await bundleHandlers(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

describe("bundleHandlers", () => {
  it("bundles handlers/default.ts into one script with the sdk inlined", async () => {
    const [bundle, ...rest] = await bundleHandlers(HANDLERS);
    expect(rest).toEqual([]);
    expect(bundle?.name).toBe("default");
    expect(bundle?.file).toBe(path.join(HANDLERS, "default.ts"));
    const code = bundle?.code ?? "";
    expect(code).not.toMatch(/^\s*(import|export)\b/m);
    expect(code).not.toMatch(/\brequire\(/);
    expect(code.startsWith("var __edgeAlarmHandler = (() => {")).toBe(true);
    // The sdk's card builder is inlined, not referenced.
    expect(code).toMatch(/function card\(/);
    expect(bundle?.bytes).toBe(Buffer.byteLength(code));
  });

  it("gives byte-identical bundles, wherever the handler directory is", async () => {
    const [first] = await bundleHandlers(HANDLERS);
    const [second] = await bundleHandlers(HANDLERS);
    expect(second?.code).toBe(first?.code);
    expect(second?.sha256).toBe(first?.sha256);
    // A site repo elsewhere on disk, with the same handler: same hash, no machine path inside.
    const elsewhere = await handlerDir({ "default.ts": await readFile(path.join(HANDLERS, "default.ts"), "utf8") });
    const [copy] = await bundleHandlers(elsewhere);
    expect(copy?.sha256).toBe(first?.sha256);
    expect(copy?.code).not.toContain(path.resolve("sdk"));
    expect(copy?.code).not.toContain("node_modules");
  });

  it("bundles relative imports from subfolders and ignores *.d.ts and *.test.ts", async () => {
    const dir = await handlerDir({
      "pods.ts": `import { defineHandler } from "edge-alarm/sdk";
import { SEVERE } from "./lib/reasons.ts";
export default defineHandler({ handle: (e) => (SEVERE.includes(e.reason) ? null : undefined) });
`,
      "lib/reasons.ts": `export const SEVERE = ["OOMKilling", "BackOff-unique-marker"];\n`,
      "types.d.ts": "declare const x: number;\n",
      "pods.test.ts": "throw new Error('not a handler');\n",
    });
    const bundles = await bundleHandlers(dir);
    expect(bundles.map((b) => b.name)).toEqual(["pods"]);
    expect(bundles[0]?.code).toContain("BackOff-unique-marker");
  });

  it("turns a node builtin import into a hint with file:line", async () => {
    const dir = await handlerDir({
      "disk.ts": `import { defineHandler } from "edge-alarm/sdk";
import { readFileSync } from "node:fs";
import os from "os";
export default defineHandler({ handle: () => (readFileSync(os.hostname()) ? null : null) });
`,
    });
    const { message } = await bundleError(dir);
    const file = path.join(dir, "disk.ts");
    expect(message).toContain(
      `${file}:2: node:fs is not available to handlers: they run in a QuickJS sandbox with no file system, network or process access. Use the event and ctx instead.`,
    );
    expect(message).toContain(`${file}:3: os is not available to handlers`);
  });

  it("refuses npm packages, even installed ones, with a hint", async () => {
    const dir = await handlerDir({
      "pkg.ts": `import YAML from "yaml";
import { left } from "left-pad-not-installed";
export default { handle: () => (YAML.stringify(left) ? null : null) };
`,
    });
    const { message } = await bundleError(dir);
    const file = path.join(dir, "pkg.ts");
    expect(message).toContain(`${file}:1: "yaml" cannot be imported: handlers may import only "edge-alarm/sdk" and relative files`);
    expect(message).toContain(`${file}:2: "left-pad-not-installed" cannot be imported`);
  });

  it("reports syntax errors of every file with file:line:col in one error", async () => {
    const badLine = "  handle(e: unknown) { return e + ; },";
    const importLine = `import { x } from "./missing.ts";`;
    const dir = await handlerDir({
      "a.ts": `export default {\n${badLine}\n};\n`,
      "b.ts": MINIMAL,
      "c.ts": `${importLine}\nexport default { handle: () => x };\n`,
    });
    const { message } = await bundleError(dir);
    // Columns are 1-based, as editors count them.
    expect(message).toContain(`${path.join(dir, "a.ts")}:2:${badLine.indexOf(";") + 1}: Unexpected ";"`);
    expect(message).toContain(`${path.join(dir, "c.ts")}:1:${importLine.indexOf('"') + 1}: Could not resolve "./missing.ts"`);
    expect(message).not.toContain("b.ts");
  });

  it("reports esbuild warnings through onWarning without failing", async () => {
    const dir = await handlerDir({
      "w.ts": `export default { handle: (e: { count: number }) => (e.count === -0 ? null : null) };\n`,
    });
    const warnings: string[] = [];
    const bundles = await bundleHandlers(dir, { onWarning: (w) => warnings.push(w) });
    expect(bundles).toHaveLength(1);
    expect(warnings.some((w) => w.startsWith(`${path.join(dir, "w.ts")}:1:`))).toBe(true);
  });
});

describe("listHandlerFiles", () => {
  it("names a file whose name cannot be a handler name", async () => {
    const dir = await handlerDir({ "Disk_Full.ts": MINIMAL, "ok-1.ts": MINIMAL });
    const err = await listHandlerFiles(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`${path.join(dir, "Disk_Full.ts")}: the handler name "Disk_Full"`);
    expect((err as Error).message).not.toContain("ok-1.ts");
  });

  it("fails clearly on an empty or missing directory", async () => {
    const empty = await handlerDir({ "notes.md": "no handlers here\n" });
    await expect(listHandlerFiles(empty)).rejects.toThrow(new UserError(`no handlers in ${empty}: expected files like ${path.join(empty, "default.ts")} (not *.d.ts or *.test.ts)`));
    await expect(listHandlerFiles(path.join(empty, "nope"))).rejects.toThrow(/does not exist/);
  });
});

/** A real Warning event (kubectl cluster-info dump from an AKS cluster; see SOURCES.md there). */
async function realWarning(): Promise<unknown> {
  const file = "/work/shared/data/events/epicapex-k8s-arena/kube-system/events.json";
  const list = JSON.parse(await readFile(file, "utf8")) as { items: { type?: string }[] };
  const warning = list.items.find((e) => e.type === "Warning");
  if (warning === undefined) throw new Error(`no Warning event in ${file}`);
  return warning;
}

describe("bundles in the QuickJS sandbox", () => {
  it("runs the default handler's bundle on a real Warning event", async () => {
    const [bundle] = await bundleHandlers(HANDLERS);
    await validateBundles(bundle ? [bundle] : []);
    const sandbox = await Sandbox.create();
    try {
      expect(await sandbox.load("default", bundle?.code ?? "")).toMatchObject({ ok: true, match: { type: "Warning" } });
      const event = normalizeEvent(await realWarning());
      const outcome = await sandbox.call("default", JSON.stringify(event), {
        cluster: "edge-7",
        timezone: "Asia/Shanghai",
        now: "2026-11-20T06:00:00Z",
      });
      if (!outcome.ok) throw new Error(`handler failed: ${outcome.kind} ${outcome.message}`);
      expect(outcome.alarms).toHaveLength(1);
      expect(outcome.alarms[0]?.card.header?.title.content).toBe("edge-7 alarm");
      expect(JSON.stringify(outcome.alarms[0]?.card)).toContain(event.reason);
    } finally {
      await sandbox.close();
    }
  });

  it("fails the build naming every file that does not export a handler", async () => {
    const dir = await handlerDir({
      "good.ts": MINIMAL,
      "no-default.ts": "export const handle = () => null;\n",
      "not-object.ts": "export default 42;\n",
    });
    const bundles = await bundleHandlers(dir);
    const err = await validateBundles(bundles).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    expect(message).toContain(`${path.join(dir, "no-default.ts")}: `);
    expect(message).toContain(`${path.join(dir, "not-object.ts")}: `);
    expect(message).not.toContain("good.ts");
  });
});
