import { writeFileSync } from "node:fs";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fileNflogStore, JOURNAL_FILE, memoryNflogStore, SNAPSHOT_FILE, type NflogStore } from "../../../dispatcher/grouping/nflog.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import type { StagedFile } from "../../../dispatcher/state/atomic-file.ts";
import { event, input, rig, T0 } from "./helpers.ts";

const dirs: string[] = [];
async function stateDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "nflog-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A grouper over the directory; `crash()` drops it without a clean shutdown (the fd dies with the process). */
async function open(dir: string, at: number, sent: Delivery[] = []) {
  const store: NflogStore = fileNflogStore(dir);
  const r = await rig({ store, start: at, sent });
  return { ...r, store, crash: () => store.close() };
}

describe("notification log on disk", () => {
  it("does not forget a group that was pending when the process died", async () => {
    const dir = await stateDir();
    const a = await open(dir, T0);
    await a.grouper.add(input(event()));
    await a.crash();
    const b = await open(dir, T0 + 500);
    expect(b.sent).toHaveLength(0);
    await b.clock.runUntilIdle();
    expect(b.sent.map((d) => [d.kind, d.at])).toEqual([["first", new Date(T0 + 1_000).toISOString()]]);
    await b.grouper.close();
  });

  it("does not send again what was sent, and keeps counting into the same group", async () => {
    const dir = await stateDir();
    const a = await open(dir, T0);
    await a.grouper.add(input(event({ pod: "web-7d4b9c6f8d-q7r8s", uid: "one" })));
    await a.clock.advanceTo(T0 + 2_000);
    expect(a.sent).toHaveLength(1);
    const live = JSON.stringify(a.grouper.state);
    await a.crash();

    const b = await open(dir, T0 + 60_000);
    expect(JSON.stringify(b.grouper.state)).toBe(live);
    expect(await b.grouper.observe(event({ pod: "web-7d4b9c6f8d-q7r8s", uid: "one", count: 7 }))).toBe(true);
    await b.grouper.add(input(event({ pod: "web-7d4b9c6f8d-m4n5p", uid: "two" })));
    await b.clock.runUntilIdle();
    expect(b.sent.map((d) => d.kind)).toEqual(["update"]);
    expect(b.sent[0]!.id).not.toBe(a.sent[0]!.id);
    await b.grouper.close();
  });

  it("hands on again, under the same id, a card that was logged but not handed on", async () => {
    const dir = await stateDir();
    const store = fileNflogStore(dir);
    const a = await rig({ store, accept: () => { throw new Error("outbox gone"); } });
    await a.grouper.add(input(event()));
    await a.clock.advanceTo(T0 + 1_000);
    expect(a.sent).toHaveLength(0);
    const planned = a.grouper.state.channels.default!.queue.map((c) => c.id);
    expect(planned).toHaveLength(1);
    await store.close();

    const b = await open(dir, T0 + 5_000);
    await b.clock.advanceTo(T0 + 5_000);
    expect(b.sent.map((d) => d.id)).toEqual(planned);
    await b.grouper.close();
  });

  it("ignores a torn last line and reads everything before it", async () => {
    const dir = await stateDir();
    const a = await open(dir, T0);
    await a.grouper.add(input(event({ uid: "one" })));
    const before = JSON.stringify(a.grouper.state);
    await a.crash();
    await appendFile(path.join(dir, JOURNAL_FILE), '{"t":"count","s":2,"at":1,"str');
    const b = await open(dir, T0);
    expect(JSON.stringify(b.grouper.state)).toBe(before);
    await b.grouper.close();
  });

  it("folds the journal into a snapshot past its bound; a crash between the two steps loses nothing", async () => {
    const store = memoryNflogStore();
    // Keep what the journal held when the last snapshot replaced it.
    let cut = "";
    const compact = store.compact.bind(store);
    store.compact = async (snapshot) => {
      cut = store.files.journal;
      await compact(snapshot);
    };
    const a = await rig({ store, maxJournalBytes: 4_000 });
    for (let i = 0; i < 30; i++) await a.grouper.add(input(event({ pod: `app${i}-0`, uid: `u${i}` })));
    await a.clock.runUntilIdle();
    const live = JSON.stringify(a.grouper.state);
    expect(store.files.snapshot).toBeDefined();
    expect(store.files.journal.length).toBeLessThan(4_000 + 3_000);
    expect(cut.length).toBeGreaterThan(0);
    // As if the process died after the new snapshot was in place but before the journal was cut.
    const crashed = memoryNflogStore({ snapshot: store.files.snapshot, journal: cut + store.files.journal });
    const b = await rig({ store: crashed, start: a.clock.now() });
    expect(JSON.stringify(b.grouper.state)).toBe(live);
  });

  it("folds no sooner than the journal outgrows the last snapshot, so a storm does not serialise the state again and again", async () => {
    const store = memoryNflogStore();
    const folds: Array<{ journal: number; previousSnapshot: number }> = [];
    const compact = store.compact.bind(store);
    store.compact = async (snapshot) => {
      folds.push({ journal: store.files.journal.length, previousSnapshot: store.files.snapshot?.length ?? 0 });
      await compact(snapshot);
    };
    const bound = 2_000;
    const a = await rig({ store, maxJournalBytes: bound });
    for (let i = 0; i < 120; i++) await a.grouper.add(input(event({ pod: `app${i}-0`, uid: `u${i}` })));
    await a.clock.runUntilIdle();
    const live = JSON.stringify(a.grouper.state);
    expect(folds.length).toBeGreaterThan(1);
    // The state outgrew the fixed bound, so the proportional bound was the one that applied.
    expect(folds.some((f) => f.previousSnapshot > bound)).toBe(true);
    // A fold per fixed bound would have been about journal-total / bound folds; this stays far below.
    const written = folds.reduce((n, f) => n + f.journal, 0) + store.files.journal.length;
    expect(folds.length).toBeLessThan(written / bound / 2);
    const b = await rig({ store: memoryNflogStore({ snapshot: store.files.snapshot, journal: store.files.journal }), start: a.clock.now() });
    expect(JSON.stringify(b.grouper.state)).toBe(live);
  });

  it("writes the snapshot in the format it always had: the state as JSON, readable by a plain JSON.parse", async () => {
    const dir = await stateDir();
    const a = await open(dir, T0);
    for (let i = 0; i < 5; i++) await a.grouper.add(input(event({ pod: `app${i}-0`, uid: `u${i}` })));
    await a.clock.runUntilIdle();
    await a.grouper.close();
    const file = JSON.parse(await readFile(path.join(dir, SNAPSHOT_FILE), "utf8")) as { version: number; savedAt: string; state: unknown };
    expect(file.version).toBe(1);
    expect(Number.isNaN(Date.parse(file.savedAt))).toBe(false);
    expect(JSON.stringify(file.state)).toBe(JSON.stringify(a.grouper.state));
    expect((await readdir(dir)).sort()).toEqual([JOURNAL_FILE, SNAPSHOT_FILE]);
  });

  it("folds on disk while appends go on: each snapshot is the state of its fold, and a crash after them loses nothing", async () => {
    const dir = await stateDir();
    const store = fileNflogStore(dir);
    const a = await rig({ store, maxJournalBytes: 3_000 });
    // Not awaited one by one: folds are staged while earlier ones are still being synced and renamed.
    await Promise.all(Array.from({ length: 80 }, (_, i) => a.grouper.add(input(event({ pod: `app${i % 9}-${i}`, uid: `u${i}` })))));
    await a.clock.advanceTo(T0 + 2_000);
    for (let i = 0; i < 40; i++) await a.grouper.observe(event({ pod: `app${i % 9}-${i}`, uid: `u${i}`, count: 3 }));
    await a.grouper.flush();
    const live = JSON.stringify(a.grouper.state);
    expect(JSON.parse(await readFile(path.join(dir, SNAPSHOT_FILE), "utf8")).state.seq).toBeGreaterThan(0);
    // Wait for the writes in flight, then die without a clean shutdown.
    await new Promise((r) => setTimeout(r, 50));
    await store.close();
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const b = await open(dir, a.clock.now());
    expect(JSON.stringify(b.grouper.state)).toBe(live);
    await b.grouper.close();
  });

  /**
   * A store on `dir` that dies at its `foldAt`-th snapshot: after `chunks` pieces reached the
   * temporary file (a power cut mid-write), or, with `chunks` undefined, once the whole snapshot
   * was written but before it was put in place. Nothing is written after that.
   */
  function dyingStore(dir: string, foldAt: number, chunks: number | undefined): NflogStore & { dead: () => boolean } {
    const real = fileNflogStore(dir);
    let dead = false;
    let folds = 0;
    return {
      ...real,
      dead: () => dead,
      append: async (text) => void (dead || (await real.append(text))),
      stage(pieces): StagedFile {
        if (dead) throw new Error("process died");
        if (++folds < foldAt) return real.stage(pieces);
        dead = true;
        if (chunks === undefined) {
          const staged = real.stage(pieces);
          return { bytes: staged.bytes, commit: async () => undefined, discard: async () => undefined };
        }
        let text = "";
        let n = 0;
        for (const piece of pieces) {
          if (n++ === chunks) break;
          text += piece;
        }
        writeFileSync(path.join(dir, `${SNAPSHOT_FILE}.4242-${foldAt}.tmp`), text);
        throw new Error("process died");
      },
      compact: async (staged) => void (dead || (await real.compact(staged))),
    };
  }

  it("a crash at any point of writing a snapshot loses nothing that was durable, and leaves no temporary file behind", async () => {
    for (const foldAt of [1, 2, 3]) {
      for (const chunks of [0, 1, 2, 5, 40, undefined]) {
        const dir = await stateDir();
        const store = dyingStore(dir, foldAt, chunks);
        const a = await rig({ store, maxJournalBytes: 2_500 });
        let durable = JSON.stringify(a.grouper.state);
        for (let i = 0; i < 60 && !store.dead(); i++) {
          if (i === 30) await a.clock.advanceTo(T0 + 2_000); // notifications and hand-offs in the log too
          const before = JSON.stringify(a.grouper.state);
          await a.grouper.add(input(event({ pod: `app${i % 7}-${i}`, uid: `u${i}` })));
          // The record that triggered the fatal fold was never durable; everything before it was.
          durable = store.dead() ? before : JSON.stringify(a.grouper.state);
        }
        expect(store.dead(), `fold ${foldAt} was reached`).toBe(true);
        await a.grouper.flush();
        await store.close();
        const b = await open(dir, a.clock.now());
        expect(JSON.stringify(b.grouper.state), `fold ${foldAt}, died after ${String(chunks)} chunks`).toBe(durable);
        expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
        await b.grouper.close();
      }
    }
  });

  it("sets an unreadable snapshot aside and starts empty", async () => {
    const dir = await stateDir();
    await writeFile(path.join(dir, SNAPSHOT_FILE), "{ not json");
    const b = await open(dir, T0);
    expect(b.grouper.active).toBe(0);
    expect((await stat(path.join(dir, `${SNAPSHOT_FILE}.corrupt`))).isFile()).toBe(true);
    await b.grouper.close();
  });

  it("a clean shutdown leaves one snapshot and an empty journal", async () => {
    const dir = await stateDir();
    const a = await open(dir, T0);
    await a.grouper.add(input(event()));
    await a.grouper.close();
    expect(await readFile(path.join(dir, JOURNAL_FILE), "utf8")).toBe("");
    const b = await open(dir, T0);
    expect(b.grouper.active).toBe(1);
    await b.grouper.close();
  });

  it("memory store: what a crash leaves is exactly what was made durable", async () => {
    const store = memoryNflogStore();
    const a = await rig({ store });
    await a.grouper.add(input(event()));
    expect(store.files.journal.split("\n").filter(Boolean)).toHaveLength(1);
    const b = await rig({ store: memoryNflogStore(store.files) });
    expect(JSON.stringify(b.grouper.state)).toBe(JSON.stringify(a.grouper.state));
  });
});
