/**
 * The outbox and the grouper's cards (a Delivery with `id` and `kind`): a card handed on twice
 * (the notification log after a crash) is posted once, also across an outbox restart; a backlog
 * of grouped cards after an outage goes out card by card, as built, within 5/s and 100/min,
 * while ungrouped alarms held in the same outage are still digested. Virtual time, the Feishu
 * double with signing, real spool files.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { card, div, md, note } from "../../../sdk/index.ts";
import { createOutbox, type Outbox } from "../../../dispatcher/outbox/outbox.ts";
import { buildFeishuBody } from "../../../dispatcher/pipeline/feishu-body.ts";
import type { Delivery } from "../../../dispatcher/pipeline/pipeline.ts";
import { createFeishuSink } from "../../../dispatcher/sinks/feishu.ts";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { startFeishuDouble, type FeishuDouble } from "../../feishu-double/double.ts";
import { captureLog, cardText, makeDelivery, maxInWindow, runVirtual, seededRandom, virtualClock } from "./helpers.ts";

const TOKEN = randomUUID();
const SECRET = `SEC${randomUUID().replaceAll("-", "")}`;
// 14:02 in Asia/Shanghai, away from the :00/:30 marks.
const T0 = Date.UTC(2025, 5, 1, 6, 2, 0);
const MINUTE = 60_000;

const clock = virtualClock(T0);
let double: FeishuDouble;
let stateDir: string;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  double = await startFeishuDouble({ clock: () => clock.now(), bots: { [TOKEN]: { secret: SECRET } } });
});
afterAll(() => double.close());
beforeEach(async () => {
  clock.set(T0);
  stateDir = await mkdtemp(path.join(tmpdir(), "edge-alarm-grouped-"));
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await double.reset();
  await rm(stateDir, { recursive: true, force: true });
});

function sink(): Sink {
  const s = createFeishuSink({ webhook: double.url(TOKEN), secret: SECRET, logger: captureLog("warn").logger, clock: () => clock.now(), timeoutMs: 3000 });
  cleanup.push(() => s.close());
  return s;
}

async function outbox(s: Sink): Promise<Outbox> {
  const o = await createOutbox({ stateDir, sinks: new Map([["default", s]]), logger: captureLog("warn").logger, clock: () => clock.now(), random: seededRandom(3), timezone: "Asia/Shanghai" });
  cleanup.push(() => o.stop());
  return o;
}

const KINDS = ["first", "update", "repeat", "digest"] as const;

/** A grouped notification as the grouper hands it on: its card lists the group's objects with counts. */
function groupedCard(n: number): Delivery {
  const group = `g${String(n).padStart(11, "0")}`;
  const pods = Array.from({ length: 6 }, (_, k) => `web-7d4b9c6f8d-p${n}x${k}`);
  const at = new Date(T0 + n * 1000).toISOString();
  const body = card({
    title: `edge-1 BackOff · ×${n + 12} · ${pods.length} objects`,
    template: "red",
    elements: [
      div(md`**Grouped** · ${`iot/web-${n}`} · BackOff`),
      div(md`${pods.map((p, k) => `${p} ×${k + 2}`).join("\n")}`),
      note(`edge-alarm · group ${group} · notice 1 · ${at}`),
    ],
  });
  return { at, channel: "default", handler: "default", eventUid: `uid-g${n}`, fingerprint: group, group: `iot/web-${n}`, id: `${group}.${T0}.1.1`, kind: KINDS[n % KINDS.length], ...buildFeishuBody(body) };
}

const headerOf = (body: Record<string, unknown>): string => cardText((body.card as { header?: unknown } | undefined)?.header);

describe("outbox: a Delivery.id already in the spool is dropped on enqueue", () => {
  it("the same card handed on three times, twice at once: one POST", async () => {
    const o = await outbox(sink());
    const g = groupedCard(1);
    await Promise.all([o.enqueue(g), o.enqueue(g)]);
    expect(o.stats()).toMatchObject({ pending: 1, duplicates: 1 });
    await runVirtual(o, clock);
    await o.enqueue(g); // after it went out: still a copy
    await runVirtual(o, clock);
    expect(double.accepted(TOKEN)).toHaveLength(1);
    expect(o.stats()).toMatchObject({ pending: 0, duplicates: 2, sent: 1 });
    // An ungrouped alarm (no id) is never taken for a copy.
    const plain = makeDelivery(1);
    await o.enqueue(plain);
    await o.enqueue(plain);
    await runVirtual(o, clock);
    expect(o.stats().alarmsDelivered).toBe(3);
  });

  it("across outbox restarts on the same state dir: handed on again before and after it was sent, still one POST", async () => {
    const s = sink();
    const g = groupedCard(2);
    // A crash before the link came back: the card is spooled, never sent.
    await double.fault({ kind: "link-down" });
    const first = await outbox(s);
    await first.enqueue(g);
    await first.pump();
    expect(first.stats()).toMatchObject({ pending: 1, online: false });
    await first.stop();

    // The notification log hands the card on again after the restart.
    const second = await outbox(s);
    await second.enqueue(g);
    expect(second.stats()).toMatchObject({ pending: 1, duplicates: 1 });
    await double.clearFaults();
    await runVirtual(second, clock);
    await second.stop();
    expect(double.accepted(TOKEN)).toHaveLength(1);

    // And once more after it was delivered: the spool remembers the ids it let go of.
    const third = await outbox(s);
    await third.enqueue(g);
    expect(third.stats()).toMatchObject({ pending: 0, duplicates: 1 });
    clock.set(clock.now() + MINUTE);
    await third.pump();
    expect(double.accepted(TOKEN)).toHaveLength(1);
    expect(JSON.stringify(double.accepted(TOKEN)[0]?.body.card)).toBe(JSON.stringify(g.body.card));
  });
});

/** Enqueues `items` at their times with the link down from T0 until `upAt`, then drains. */
async function outage(o: Outbox, items: Array<{ at: number; d: Delivery }>, upAt: number): Promise<void> {
  await double.fault({ kind: "link-down" });
  let next = 0;
  let down = true;
  for (let guard = 0; guard < 20_000; guard++) {
    if (down && clock.now() >= upAt) {
      await double.clearFaults();
      down = false;
    }
    while (next < items.length && (items[next]?.at ?? Infinity) <= clock.now()) await o.enqueue((items[next++] as { d: Delivery }).d);
    const due = await o.pump();
    if (!down && next >= items.length && o.stats().pending === 0) return;
    const upcoming = Math.min(due, items[next]?.at ?? Infinity, down ? upAt : Infinity);
    clock.set(Math.max(clock.now() + 1, upcoming));
  }
  throw new Error("the outage scenario did not settle");
}

function expectWithinLimits(): void {
  const requests = double.requests(TOKEN);
  expect(requests.every((r) => r.outcome === "accepted")).toBe(true);
  const times = requests.map((r) => r.time);
  expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(5);
  expect(maxInWindow(times, 60_000)).toBeLessThanOrEqual(100);
}

describe("outbox: grouped cards after an outage", () => {
  it("150 grouped cards held for 30 minutes go out card by card, as built and in order, within 5/s and 100/min", async () => {
    const o = await outbox(sink());
    const cards = Array.from({ length: 150 }, (_, i) => ({ at: T0 + i * 10_000, d: groupedCard(i) }));
    const upAt = T0 + 30 * MINUTE;
    await outage(o, cards, upAt);
    expectWithinLimits();

    const accepted = double.accepted(TOKEN);
    const [notice, ...rest] = accepted;
    expect(headerOf(notice?.body ?? {})).toMatch(/^edge-alarm: channel default back online after 3\d min$/);
    expect(cardText(notice?.body)).toContain("150 grouped cards were held; they follow one by one.");
    // Every card exactly as the grouper built it (object lists intact), in the order handed on.
    expect(rest.map((m) => JSON.stringify(m.body.card))).toEqual(cards.map((c) => JSON.stringify(c.d.body.card)));
    expect(o.stats()).toMatchObject({ pending: 0, digests: 0, alarmsDelivered: 150, folded: 0 });
    // 150 cards need more than one 100/min window: the gate spreads them, nothing is refused.
    const last = Math.max(...double.requests(TOKEN).map((r) => r.time));
    expect(last - upAt).toBeGreaterThan(MINUTE);
    expect(last - upAt).toBeLessThan(4 * MINUTE);
  });

  it("ungrouped alarms held in the same outage are still digested; the grouped cards are not", async () => {
    const o = await outbox(sink());
    const alarms = Array.from({ length: 60 }, (_, i) => ({ at: T0 + i * 20_000, d: makeDelivery(i) }));
    const cards = Array.from({ length: 20 }, (_, i) => ({ at: T0 + i * 60_000 + 5_000, d: groupedCard(i) }));
    const items = [...alarms, ...cards].sort((a, b) => a.at - b.at);
    await outage(o, items, T0 + 25 * MINUTE);
    expectWithinLimits();

    const accepted = double.accepted(TOKEN);
    const titles = accepted.map((m) => headerOf(m.body));
    const digests = accepted.filter((_, k) => /^edge-alarm: \d+ alarms while offline 14:02–14:2\d$/.test(titles[k] ?? ""));
    const digestText = digests.map((m) => cardText(m.body)).join("\n");
    for (let i = 0; i < 60; i++) expect(digestText).toContain(`fp${String(i).padStart(10, "0")}`);
    for (const c of cards) expect(digestText).not.toContain(c.d.fingerprint);
    expect(digests.length).toBeGreaterThanOrEqual(1);
    expect(digests.length).toBeLessThanOrEqual(3);
    expect(cardText(accepted[0]?.body)).toContain("20 grouped cards and 60 alarms were held");
    const grouped = accepted.filter((m) => cards.some((c) => JSON.stringify(c.d.body.card) === JSON.stringify(m.body.card)));
    expect(grouped.map((m) => JSON.stringify(m.body.card))).toEqual(cards.map((c) => JSON.stringify(c.d.body.card)));
    expect(accepted).toHaveLength(1 + digests.length + cards.length);
    expect(o.stats()).toMatchObject({ pending: 0, alarmsDelivered: 80 });
  });

  it("held cards wait out the busy seconds after :00 like digests; a fresh card at :00 is not delayed", async () => {
    // Platform load: 11232 for the first 30 s of every :00 and :30 minute.
    await double.fault({ kind: "rate-limit-at-minutes", minutes: [0, 30], seconds: 30 }, TOKEN);
    const start = Date.UTC(2025, 5, 1, 6, 40, 0);
    clock.set(start);
    const o = await outbox(sink());
    // 150 cards: the second 100/min window of the backlog falls on 07:00.
    const cards = Array.from({ length: 150 }, (_, i) => ({ at: start + i * 6_000, d: groupedCard(i) }));
    await outage(o, cards, Date.UTC(2025, 5, 1, 6, 58, 40));
    const requests = double.requests(TOKEN);
    expect(requests.some((r) => r.time >= Date.UTC(2025, 5, 1, 7, 0, 0))).toBe(true);
    expect(requests.filter((r) => r.code === 11232)).toEqual([]);
    expect(requests.every((r) => new Date(r.time).getUTCSeconds() >= 30 || new Date(r.time).getUTCMinutes() !== 0)).toBe(true);
    expect(o.stats().alarmsDelivered).toBe(150);

    await double.clearFaults(TOKEN);
    clock.set(Date.UTC(2025, 5, 1, 8, 0, 5));
    await o.enqueue(groupedCard(999));
    await o.pump();
    expect(double.requests(TOKEN).at(-1)?.time).toBe(Date.UTC(2025, 5, 1, 8, 0, 5));
  });
});
