/**
 * The spool on disk: what survives a reopen, a torn last write, a corrupt record, going over the
 * cap (folding) and compaction. Real files in a temp dir.
 */
import { mkdtemp, readdir, readFile, rm, stat, truncate, appendFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alarmFacts } from "../../../dispatcher/outbox/alarm-facts.ts";
import { encodeRecord, SpoolLog } from "../../../dispatcher/outbox/spool-log.ts";
import { Spool, type NewItem } from "../../../dispatcher/outbox/spool.ts";
import { captureLog, makeDelivery } from "./helpers.ts";

let dir: string;
const file = (): string => path.join(dir, "outbox", "spool.log");

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-spool-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function newItem(i: number, spec: Parameters<typeof makeDelivery>[1] = {}): NewItem {
  const d = makeDelivery(i, spec);
  return { kind: "alarm", channel: d.channel, enqueuedAt: i, at: d.at, handler: d.handler, eventUid: d.eventUid, fingerprint: d.fingerprint, body: d.body, facts: alarmFacts(d) };
}

const open = (capBytes?: number) => Spool.open({ stateDir: dir, logger: captureLog("warn").logger, ...(capBytes === undefined ? {} : { capBytes }) });
const fingerprints = (spool: Spool, channel = "default"): string[] =>
  spool.queue(channel).flatMap((e) => (e.type === "item" ? [e.fingerprint] : []));

describe("spool: durability", () => {
  it("keeps what was added and not removed across a reopen, in order", async () => {
    const spool = await open();
    const added = [];
    for (let i = 0; i < 5; i++) {
      const { item, durable } = spool.add(newItem(i));
      await durable;
      added.push(item);
    }
    await spool.remove([added[1]?.id ?? 0, added[3]?.id ?? 0]);
    await spool.close();
    const again = await open();
    expect(fingerprints(again)).toEqual(["fp0000000000", "fp0000000002", "fp0000000004"]);
    // New ids never reuse old ones, even removed ones.
    const { item } = again.add(newItem(9));
    expect(item.id).toBeGreaterThan(Math.max(...added.map((a) => a.id)));
    await again.close();
  });

  it("a torn last write (file cut mid-record) loses nothing stored before it, and appends continue cleanly", async () => {
    const spool = await open();
    for (let i = 0; i < 4; i++) await spool.add(newItem(i)).durable;
    await spool.close();
    const before = (await stat(file())).size;
    // A fifth record, torn halfway: what a power cut during the write leaves.
    const fifth = encodeRecord({ t: "a", e: { ...newItem(4), id: 99, type: "item" } });
    await appendFile(file(), fifth.slice(0, Math.floor(fifth.length / 2)));
    const log = captureLog("warn");
    const again = await Spool.open({ stateDir: dir, logger: log.logger });
    expect(fingerprints(again)).toEqual(["fp0000000000", "fp0000000001", "fp0000000002", "fp0000000003"]);
    expect(log.lines().some((l) => Number(l.tornBytes) > 0)).toBe(true);
    // The torn bytes are cut off, so the next record is not glued to them.
    expect((await stat(file())).size).toBe(before);
    await again.add(newItem(5)).durable;
    await again.close();
    expect(fingerprints(await open())).toContain("fp0000000005");
  });

  it("truncation at every byte of the last record: always exactly the earlier records", async () => {
    const spool = await open();
    for (let i = 0; i < 3; i++) await spool.add(newItem(i)).durable;
    await spool.close();
    const whole = await readFile(file());
    const lastStart = whole.subarray(0, whole.length - 1).lastIndexOf(10) + 1;
    // Every cut point inside the last record, sampled (each byte would be slow with reopen costs).
    for (let cut = lastStart; cut < whole.length; cut += Math.max(1, Math.floor((whole.length - lastStart) / 25))) {
      await writeFile(file(), whole.subarray(0, cut));
      const s = await open();
      expect(fingerprints(s)).toEqual(["fp0000000000", "fp0000000001"]);
      await s.close();
    }
  });

  it("a corrupt record in the middle is skipped (checksum), the others survive", async () => {
    const spool = await open();
    for (let i = 0; i < 3; i++) await spool.add(newItem(i)).durable;
    await spool.close();
    const text = await readFile(file(), "utf8");
    const lines = text.split("\n");
    lines[1] = (lines[1] ?? "").replace("reader", "READER"); // bit rot: content changes, checksum does not
    await writeFile(file(), lines.join("\n"));
    const log = captureLog("warn");
    const again = await Spool.open({ stateDir: dir, logger: log.logger });
    expect(fingerprints(again)).toEqual(["fp0000000000", "fp0000000002"]);
    expect(log.lines().some((l) => l.corruptRecords === 1)).toBe(true);
    await again.close();
  });

  it("without a state dir it works in memory only", async () => {
    const spool = await Spool.open({ logger: captureLog("warn").logger });
    await spool.add(newItem(1)).durable;
    expect(spool.pendingAlarms()).toBe(1);
    expect(spool.logStats).toBeUndefined();
  });
});

describe("spool: over the cap", () => {
  it("folds the oldest detail into one summary per channel, counting every alarm; nothing dropped", async () => {
    const oneItem = Buffer.byteLength(encodeRecord({ t: "a", e: { ...newItem(0), id: 1, type: "item" } }));
    const cap = oneItem * 20;
    const spool = await open(cap);
    for (let i = 0; i < 60; i++) {
      const reason = i % 4 === 0 ? "FailedMount" : "BackOff";
      await spool.add(newItem(i, { reason, namespace: i % 4 === 0 ? "kube-system" : "iot", fingerprint: `fp-${i % 25}` })).durable;
    }
    expect(spool.liveBytes).toBeLessThanOrEqual(cap);
    expect(spool.pendingAlarms()).toBe(60);
    const queue = spool.queue("default");
    const folds = queue.filter((e) => e.type === "fold");
    expect(folds).toHaveLength(1);
    const fold = folds[0];
    if (fold?.type !== "fold") throw new Error("no fold");
    expect(fold.count).toBe(spool.folded);
    expect(fold.count + queue.filter((e) => e.type === "item").length).toBe(60);
    expect(Object.values(fold.byKey).reduce((a, b) => a + b, 0)).toBe(fold.count);
    expect(Object.keys(fold.byKey).sort()).toEqual(["BackOff in iot", "FailedMount in kube-system"]);
    // The oldest alarms were folded: the items left are the newest.
    const items = queue.filter((e) => e.type === "item");
    expect(items.map((e) => e.eventUid)).toEqual(Array.from({ length: items.length }, (_, k) => `uid-${60 - items.length + k}`));
    expect(fold.fingerprints.length).toBeLessThanOrEqual(25);
    await spool.close();
    // The fold survives a restart as it is.
    const again = await open(cap);
    expect(again.pendingAlarms()).toBe(60);
    expect(again.queue("default")[0]).toEqual(fold);
    await again.close();
  });

  it("never folds alarms that are being sent", async () => {
    const oneItem = Buffer.byteLength(encodeRecord({ t: "a", e: { ...newItem(0), id: 1, type: "item" } }));
    const spool = await open(oneItem * 4);
    const first = spool.add(newItem(0));
    spool.lock([first.item.id]);
    for (let i = 1; i < 10; i++) await spool.add(newItem(i)).durable;
    expect(spool.queue("default").some((e) => e.id === first.item.id)).toBe(true);
    spool.unlock([first.item.id]);
    await spool.close();
  });
});

describe("spool: compaction", () => {
  it("rewrites only live records once the log is mostly delivered alarms; write amplification stays low", async () => {
    const spool = await open();
    let alarmBytes = 0;
    for (let i = 0; i < 400; i++) {
      const { item, durable } = spool.add(newItem(i));
      alarmBytes += Buffer.byteLength(JSON.stringify(item));
      await durable;
      if (i % 10 !== 0) await spool.remove([item.id]);
    }
    await spool.close();
    const stats = spool.logStats;
    if (stats === undefined) throw new Error("no log stats");
    expect(stats.rewrittenBytes).toBeGreaterThan(0);
    expect((await stat(file())).size).toBeLessThan(2 * spool.liveBytes + 300 * 1024);
    // Appended about once per alarm, plus compaction of the few live ones.
    expect((stats.appendedBytes + stats.rewrittenBytes) / alarmBytes).toBeLessThan(2);
    const again = await open();
    expect(again.pendingAlarms()).toBe(40);
    await again.close();
  });

  it("a compaction cut short before its rename leaves the log whole, and its temp file is removed on reopen", async () => {
    const spool = await open();
    for (let i = 0; i < 5; i++) await spool.add(newItem(i)).durable;
    await spool.close();
    const before = await readFile(file(), "utf8");
    // The rewrite's records are written to the temp file at once; the process "dies" on the next one.
    const { log } = await SpoolLog.open(file());
    const died = log.rewrite(function* () {
      yield encodeRecord({ t: "d", ids: [1] });
      throw new Error("process died");
    });
    await expect(died).rejects.toThrow("process died");
    await writeFile(`${file()}.4242-1.tmp`, encodeRecord({ t: "d", ids: [2] }).slice(0, 10)); // as a power cut leaves it
    const again = await open();
    expect(await readFile(file(), "utf8")).toBe(before);
    expect(again.pendingAlarms()).toBe(5);
    expect(await readdir(path.dirname(file()))).toEqual(["spool.log"]);
    await again.close();
    await log.close();
  });

  it("records are idempotent: replaying a log twice gives the same state", async () => {
    const spool = await open();
    const a = spool.add(newItem(1));
    const b = spool.add(newItem(2));
    await Promise.all([a.durable, b.durable]);
    await spool.remove([a.item.id]);
    await spool.close();
    const text = await readFile(file(), "utf8");
    await writeFile(file(), text + text);
    const again = await open();
    expect(fingerprints(again)).toEqual(["fp0000000002"]);
    await again.close();
    await truncate(file(), 0);
    const empty = await open();
    expect(empty.pendingAlarms()).toBe(0);
    await empty.close();
  });
});

describe("spool: delivery ids (exactly-once hand-off of grouped cards)", () => {
  const withId = (i: number, deliveryId: string): NewItem => ({ ...newItem(i), deliveryId, cardKind: "first" });

  it("knows an id while it holds the item and after it let go of it, across a reopen", async () => {
    const spool = await open();
    expect(spool.copyOf("g.1.1.1")).toBeUndefined();
    const held = spool.add(withId(1, "g.1.1.1"));
    const sent = spool.add(withId(2, "g.1.2.1"));
    await Promise.all([held.durable, sent.durable]);
    await expect(spool.copyOf("g.1.1.1")).resolves.toBeUndefined();
    await spool.remove([sent.item.id]);
    expect(spool.copyOf("g.1.2.1")).toBeDefined();
    expect(spool.pendingAlarms()).toBe(1);
    await spool.close();
    const again = await open();
    expect(again.copyOf("g.1.1.1")).toBeDefined();
    expect(again.copyOf("g.1.2.1")).toBeDefined();
    expect(again.copyOf("g.1.3.1")).toBeUndefined();
    expect(again.queue("default").map((e) => (e.type === "item" ? e.deliveryId : e.type))).toEqual(["g.1.1.1"]);
    await again.close();
  });

  it("a copy handed on again is written again, so it is on disk even if its first record is lost", async () => {
    const spool = await open();
    await spool.add(newItem(0)).durable;
    await spool.close();
    const before = (await stat(file())).size;
    const again = await open();
    await again.add(withId(1, "g.2.1.1")).durable;
    await again.copyOf("g.2.1.1");
    await again.close();
    // Rot the card's first record; the second record still holds it.
    const text = await readFile(file(), "utf8");
    const lines = text.slice(before).split("\n");
    expect(lines.filter((l) => l.includes('"g.2.1.1"'))).toHaveLength(2);
    await writeFile(file(), text.slice(0, before) + (lines[0] ?? "").replace("reader", "READER") + "\n" + lines.slice(1).join("\n"));
    const reopened = await open();
    expect(reopened.queue("default").map((e) => (e.type === "item" ? e.deliveryId ?? "-" : e.type))).toEqual(["-", "g.2.1.1"]);
    await reopened.close();
  });

  it("folded items count as held; ids survive compaction; the memory is bounded to the last 1,000", async () => {
    const oneItem = Buffer.byteLength(encodeRecord({ t: "a", e: { ...withId(0, "g.3.0.1"), id: 1, type: "item" } }));
    const spool = await open(oneItem * 30);
    const ids = Array.from({ length: 1_100 }, (_, i) => `g.3.${i}.1`);
    // Added in batches (one fsync per batch); most get folded over the small cap, the rest are sent.
    for (let b = 0; b < ids.length; b += 100) await Promise.all(ids.slice(b, b + 100).map((id, k) => spool.add(withId(b + k, id)).durable));
    expect(spool.folded).toBeGreaterThan(1_000);
    // Everything sent: the log is all dead records now, so this removal compacts it.
    await spool.remove(spool.queue("default").map((e) => e.id));
    expect(spool.pendingAlarms()).toBe(0);
    await spool.close();
    expect(spool.logStats?.rewrittenBytes ?? 0).toBeGreaterThan(0);
    expect((await readFile(file(), "utf8")).split("\n").some((l) => l.includes('"t":"k"'))).toBe(true);
    const again = await open();
    expect(again.copyOf(ids.at(-1) ?? "")).toBeDefined();
    expect(again.copyOf(ids[100] ?? "")).toBeDefined();
    expect(again.copyOf(ids[0] ?? "")).toBeUndefined();
    expect(again.copyOf(ids[99] ?? "")).toBeUndefined();
    await again.close();
  });
});
