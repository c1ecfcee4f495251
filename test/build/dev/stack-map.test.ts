import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devBundles } from "../../../build/dev/dev-bundle.ts";
import { mapStack } from "../../../build/dev/stack-map.ts";
import { Sandbox } from "../../../dispatcher/sandbox/index.ts";
import { normalizeEvent } from "../../../sdk/index.ts";

const HELPER = `export function explode(reason: string): never {
  const detail = { reason };
  throw new Error("cannot alarm on " + detail.reason);
}
`;

const HANDLER = `import { defineHandler, at } from "edge-alarm/sdk";
import { explode } from "./lib/explode.ts";

export default defineHandler({
  handle(event) {
    if (event.reason === "Boom") explode(event.reason);
    at(event.message); // the sdk refuses ids with spaces
    return null;
  },
});
`;

describe("QuickJS stacks mapped to TypeScript", () => {
  let dir: string;
  let sandbox: Sandbox;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-stack-"));
    await writeFile(path.join(dir, "boom.ts"), HANDLER);
    await import("node:fs/promises").then((fs) => fs.mkdir(path.join(dir, "lib")));
    await writeFile(path.join(dir, "lib/explode.ts"), HELPER);
    sandbox = await Sandbox.create();
  });
  afterAll(async () => {
    await sandbox?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function failure(reason: string, message: string) {
    const [bundle] = await devBundles(dir);
    if (!bundle) throw new Error("no bundle");
    expect((await sandbox.load(bundle.name, bundle.code)).ok).toBe(true);
    const outcome = await sandbox.call("boom", JSON.stringify(normalizeEvent({ type: "Warning", reason, message })), { cluster: "c", timezone: "UTC", now: new Date().toISOString() });
    if (outcome.ok) throw new Error("the handler did not fail");
    return { stack: outcome.stack ?? "", mapped: mapStack(outcome.stack ?? "", new Map([[bundle.name, bundle]])) };
  }

  it("points at the .ts lines of the handler and its helper, without the sandbox's frames", async () => {
    const { stack, mapped } = await failure("Boom", "x");
    expect(stack).toMatch(/boom\.js:\d+/);
    const lines = mapped.split("\n");
    expect(lines[0]).toMatch(new RegExp(`at explode \\(${path.join(dir, "lib/explode.ts").replace(/[/.]/g, "\\$&")}:3:\\d+\\)$`));
    expect(lines[1]).toMatch(new RegExp(`at handle \\(${path.join(dir, "boom.ts").replace(/[/.]/g, "\\$&")}:6:\\d+\\)$`));
    expect(mapped).not.toContain("glue");
  });

  it("maps frames inside the sdk to the sdk's source", async () => {
    const { mapped } = await failure("Other", "not an id");
    expect(mapped.split("\n")[0]).toMatch(/at at \(.*sdk\/markdown\.ts:\d+:\d+\)$/);
    expect(mapped.split("\n")[1]).toMatch(/boom\.ts:7:\d+\)$/);
  });

  it("leaves lines it cannot map alone", () => {
    expect(mapStack("Error: x\n    at f (other.js:1:1)\n    at <eval>", new Map())).toBe("Error: x\n    at f (other.js:1:1)\n    at <eval>");
  });
});
