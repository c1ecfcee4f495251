import { describe, expect, it } from "vitest";
import { importHint, isNodeBuiltin } from "../../build/hints.ts";

describe("importHint", () => {
  it("explains Node builtins with or without the node: prefix", () => {
    for (const spec of ["node:fs", "fs", "fs/promises", "child_process", "node:test"]) {
      expect(isNodeBuiltin(spec)).toBe(true);
      expect(importHint(spec)).toMatch(new RegExp(`^${spec} is not available to handlers: they run in a QuickJS sandbox`));
    }
  });

  it("points deep sdk imports at edge-alarm/sdk and npm packages at relative files", () => {
    expect(isNodeBuiltin("lodash")).toBe(false);
    expect(importHint("edge-alarm/sdk/card.ts")).toBe('"edge-alarm/sdk/card.ts" cannot be imported: import everything from "edge-alarm/sdk".');
    expect(importHint("lodash")).toContain('handlers may import only "edge-alarm/sdk" and relative files');
  });
});
