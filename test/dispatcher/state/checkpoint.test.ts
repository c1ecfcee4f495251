import { mkdtemp, readFile, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../dispatcher/log.ts";
import { Occurrences } from "../../../dispatcher/pipeline/occurrences.ts";
import { Checkpoint } from "../../../dispatcher/state/checkpoint.ts";
import { normalizeEvent } from "../../../sdk/index.ts";

const lines: string[] = [];
const logger = createLogger({ destination: new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }) });
const ev = (uid: string, count: number) => normalizeEvent({ metadata: { uid }, reason: "R", type: "Warning", count, lastTimestamp: `2026-11-27T00:00:0${count}Z` });

describe("Checkpoint", () => {
  it("round-trips the occurrence memory, so a restart recognises what it handled", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ea-ckpt-"));
    const occ = new Occurrences();
    occ.observe(ev("a", 1));
    occ.observe(ev("b", 3));
    await new Checkpoint(dir, logger).save(occ);
    const loaded = await new Checkpoint(dir, logger).load();
    const restored = new Occurrences(100, loaded?.entries);
    expect(restored.observe(ev("a", 1))).toBe("seen");
    expect(restored.observe(ev("b", 4))).toBe("repeat");
    expect(restored.observe(ev("c", 1))).toBe("new");
    expect(await readdir(dir)).toEqual(["occurrences.json"]); // no temp file left behind
  });

  it("keeps its file format (one JSON document of the entries, stalest first) and removes a temp file a crash left", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ea-ckpt-"));
    const occ = new Occurrences();
    for (let i = 0; i < 3_000; i++) occ.observe(ev(`u${i}`, 1 + (i % 5)));
    const ckpt = new Checkpoint(dir, logger);
    await ckpt.save(occ);
    const saved = JSON.parse(await readFile(ckpt.file, "utf8")) as { version: number; savedAt: string; entries: unknown[] };
    expect(saved.version).toBe(1);
    expect(saved.entries).toEqual([...occ.values()]);
    await writeFile(`${ckpt.file}.1-9.tmp`, '{"version":1,"entr');
    expect((await new Checkpoint(dir, logger).load())?.entries).toHaveLength(3_000);
    expect(await readdir(dir)).toEqual(["occurrences.json"]);
  });

  it("coalesces scheduled saves into one write", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ea-ckpt-"));
    const ckpt = new Checkpoint(dir, logger, 50);
    const occ = new Occurrences();
    for (let i = 0; i < 20; i++) {
      occ.observe(ev(`u${i}`, 1));
      ckpt.schedule(occ);
    }
    await new Promise((r) => setTimeout(r, 150));
    const saved = JSON.parse(await readFile(ckpt.file, "utf8")) as { entries: unknown[] };
    expect(saved.entries).toHaveLength(20);
  });

  it("sets a corrupt checkpoint aside and starts without it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ea-ckpt-"));
    await writeFile(path.join(dir, "occurrences.json"), '{"version":1,"entries":[{"key":"a"');
    expect(await new Checkpoint(dir, logger).load()).toBeUndefined();
    expect((await readdir(dir)).sort()).toEqual(["occurrences.json.corrupt"]);
    expect(lines.some((l) => l.includes("checkpoint unreadable"))).toBe(true);
  });
});
