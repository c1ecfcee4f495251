import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkHandlers } from "../../build/check.ts";
import { UserError } from "../../build/errors.ts";
import { handlerDir } from "./temp-dir.ts";

describe("checkHandlers", () => {
  it("passes on the repo's handlers", async () => {
    expect(await checkHandlers("handlers")).toEqual({ ok: true, diagnostics: [] });
  });

  it("reports type errors, Node imports and a default export that is not a Handler", async () => {
    // A site repo outside this one: "edge-alarm/sdk" must still resolve to this repo's sdk.
    const bad = [
      `import { defineHandler } from "edge-alarm/sdk";`,
      `import { readFileSync } from "node:fs";`,
      `export default defineHandler({`,
      `  handle(event) {`,
      `    const count: string = event.count;`,
      `    console.log(count, readFileSync, process.env);`,
      `    return null;`,
      `  },`,
      `});`,
    ];
    const col = (line: number, text: string) => `${line}:${(bad[line - 1] ?? "").indexOf(text) + 1}`;
    const dir = await handlerDir({
      "bad.ts": `${bad.join("\n")}\n`,
      "misspelt.ts": `export default { handel() { return null; } };\n`,
      "none.ts": `export const handle = () => null;\n`,
      "good.ts": `import { card, defineHandler, md } from "edge-alarm/sdk";
export default defineHandler({
  match: { type: "Warning" },
  handle: (event, ctx) => ({ card: card({ title: ctx.cluster, elements: [] }), group: md\`\${event.reason}\`.content }),
});
`,
    });
    const { ok, diagnostics } = await checkHandlers(dir);
    expect(ok).toBe(false);
    const file = path.join(dir, "bad.ts");
    expect(diagnostics).toEqual([
      expect.stringMatching(
        new RegExp(`^${file}:${col(2, '"node:fs"')} - error TS2307: Cannot find module 'node:fs'.* node:fs is not available to handlers`),
      ),
      `${file}:${col(5, "count")} - error TS2322: Type 'number' is not assignable to type 'string'.`,
      // No @types/node: handlers have no process object, and the hint must not suggest installing it.
      `${file}:${col(6, "process")} - error TS2591: Cannot find name 'process': handlers run in a QuickJS sandbox without Node or browser globals (no process, require, fetch or timers). Use the event and ctx instead.`,
      expect.stringMatching(
        new RegExp(`^${path.join(dir, "misspelt.ts")}:1:1 - error TS2741: the default export is not a Handler .*Property 'handle' is missing`),
      ),
      expect.stringMatching(new RegExp(`^${path.join(dir, "none.ts")}:1:1 - error TS1192: no default export`)),
    ]);
  });

  it("throws a UserError for a directory without handlers", async () => {
    const dir = await handlerDir({ "lib/util.ts": "export const x = 1;\n" });
    await expect(checkHandlers(dir)).rejects.toBeInstanceOf(UserError);
  });
});
