import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonChunks, removeStaleTemps, stageFileSync } from "../../../dispatcher/state/atomic-file.ts";

const dir = () => mkdtemp(path.join(tmpdir(), "ea-atomic-"));

describe("stageFileSync", () => {
  it("writes the pieces under a temporary name; the target changes only on commit", async () => {
    const d = await dir();
    const file = path.join(d, "state.json");
    await writeFile(file, "old");
    // Pieces larger and smaller than the write chunk, and multi-byte characters across them.
    const pieces = ["{", "\"a\":", JSON.stringify("é".repeat(120_000)), ",\"b\":", JSON.stringify("ü".repeat(40_000)), ",\"c\":", JSON.stringify("x".repeat(30_000)), "}"];
    const staged = stageFileSync(file, pieces);
    expect(await readFile(file, "utf8")).toBe("old");
    const temps = (await readdir(d)).filter((f) => f.endsWith(".tmp"));
    expect(temps).toHaveLength(1);
    expect(staged.bytes).toBe(Buffer.byteLength(pieces.join("")));
    await staged.commit();
    expect(await readFile(file, "utf8")).toBe(pieces.join(""));
    expect(await readdir(d)).toEqual(["state.json"]);
  });

  it("takes the pieces at once: a later change to the source is not in the file", async () => {
    const d = await dir();
    const file = path.join(d, "state.json");
    const state: Record<string, number> = { a: 1 };
    const staged = stageFileSync(file, jsonChunks(state, 1));
    state.b = 2;
    await staged.commit();
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ a: 1 });
  });

  it("two staged versions do not collide; a discarded one leaves nothing behind", async () => {
    const d = await dir();
    const file = path.join(d, "state.json");
    const first = stageFileSync(file, ["one"]);
    const second = stageFileSync(file, ["two"]);
    await first.discard();
    await second.commit();
    expect(await readFile(file, "utf8")).toBe("two");
    expect(await readdir(d)).toEqual(["state.json"]);
  });

  it("removes the temporary file when a piece cannot be produced, and leaves the target as it was", async () => {
    const d = await dir();
    const file = path.join(d, "state.json");
    await writeFile(file, "old");
    function* failing(): Generator<string> {
      yield "x".repeat(100_000);
      throw new Error("boom");
    }
    expect(() => stageFileSync(file, failing())).toThrow("boom");
    expect(await readdir(d)).toEqual(["state.json"]);
    expect(await readFile(file, "utf8")).toBe("old");
  });

  it("removeStaleTemps removes what a crash left next to the file, and only that", async () => {
    const d = await dir();
    const file = path.join(d, "state.json");
    stageFileSync(file, ["never committed"]); // the process "dies" here
    await writeFile(`${file}.7.tmp`, "older temp name");
    await writeFile(`${file}.corrupt`, "set aside");
    await writeFile(path.join(d, "other.json.1-1.tmp"), "another file's");
    await removeStaleTemps(file);
    expect((await readdir(d)).sort()).toEqual(["other.json.1-1.tmp", "state.json.corrupt"]);
    await removeStaleTemps(path.join(d, "missing-dir", "x.json")); // no directory yet: nothing to do
  });
});

describe("jsonChunks", () => {
  it("joins to JSON.stringify's text at any depth", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(4), (value, depth) => {
        expect([...jsonChunks(value, depth)].join("")).toBe(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  it("splits objects entry by entry down to the depth, and leaves out what JSON.stringify leaves out", () => {
    const value = { seq: 3, groups: { a: { n: 1 }, b: { n: 2 } }, gone: undefined, list: [1, 2] };
    const chunks = [...jsonChunks(value, 2)];
    expect(chunks).toContain('{"n":1}');
    expect(chunks).toContain('{"n":2}');
    expect(chunks.join("")).toBe(JSON.stringify(value));
  });
});
