import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDev, type DevSession } from "../../../build/dev/dev-session.ts";
import type { InboxEntry } from "../../../build/dev/inbox-server.ts";
import { relive } from "../../../build/dev/event-source.ts";
import { createLogger } from "../../../dispatcher/log.ts";
import { normalizeEvent } from "../../../sdk/index.ts";
import { startFeishuDouble, type FeishuDouble } from "../../feishu-double/double.ts";

const handler = (title: string) => `import { card, defineHandler, div } from "edge-alarm/sdk";

export default defineHandler({
  match: { type: "Warning" },
  handle(event) {
    return { card: card({ title: \`${title} \${event.reason}\`, template: "red", elements: [div(event.message)] }) };
  },
});
`;

const THROWING = `import { defineHandler } from "edge-alarm/sdk";

export default defineHandler({
  handle(event) {
    const parts = event.message.split(" ");
    if (parts.length > 1) throw new RangeError("too many words: " + parts.length);
    return null;
  },
});
`;

function event(i: number, type: string, reason: string) {
  return {
    type: "ADDED",
    object: {
      kind: "Event", type, reason, message: `message ${i}`, count: 1,
      metadata: { name: `e${i}`, namespace: "iot", uid: `uid-${i}` },
      involvedObject: { kind: "Pod", name: `pod-${i}`, namespace: "iot" },
      lastTimestamp: new Date(Date.UTC(2026, 10, 20, 6, 0, i)).toISOString(),
    },
  };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const quiet = () => createLogger({ level: "warn", destination: new Writable({ write: (_c, _e, done) => done() }) });

describe("edge-alarm dev session", () => {
  let dir: string;
  let session: DevSession;
  const entries = (): readonly InboxEntry[] => session.inbox.entries();
  const cardTitles = () => entries().flatMap((e) => (e.kind === "card" ? [(e.card as { header: { title: { content: string } } }).header.title.content] : []));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-dev-"));
    await writeFile(path.join(dir, "default.ts"), handler("T1"));
    const samples = path.join(dir, "..", `${path.basename(dir)}.ndjson`);
    await writeFile(samples, [event(1, "Warning", "BackOff"), event(2, "Normal", "Pulled"), event(3, "Warning", "Failed")].map((e) => JSON.stringify(e)).join("\n"));
    session = await startDev({ dir, port: 0, cluster: "c", timezone: "UTC", logger: quiet(), replay: samples, speed: 1000 });
  });
  afterAll(async () => {
    await session?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.ndjson`, { force: true });
  });

  it("shows a card per Warning event, with the event that caused it", async () => {
    await until("cards", () => (cardTitles().includes("T1 BackOff") && cardTitles().includes("T1 Failed") ? true : undefined));
    expect(cardTitles().some((t) => t.includes("Pulled"))).toBe(false);
    const first = entries().find((e) => e.kind === "card");
    expect(first?.kind === "card" && first.event?.involvedObject.name).toMatch(/^pod-\d$/);
    expect(session.source).toContain("3 events, 1000× speed");
  });

  it("keeps the previous handlers when a save does not build", async () => {
    await writeFile(path.join(dir, "default.ts"), 'import { readFileSync } from "node:fs";\nexport default { handle: () => readFileSync("/etc/passwd") };\n');
    const failed = await until("a failed build", () => entries().find((e) => e.kind === "build" && !e.ok));
    expect(failed.kind === "build" && !failed.ok && failed.message).toMatch(/node:fs is not available to handlers/);
    const before = cardTitles().length;
    await until("more T1 cards", () => (cardTitles().length > before + 1 ? true : undefined));
    expect(cardTitles().slice(before).every((t) => t.startsWith("T1"))).toBe(true);
  });

  it("rebuilds on save and shows the new cards at once", async () => {
    await writeFile(path.join(dir, "default.ts"), handler("T2"));
    await until("a T2 card", () => (cardTitles().some((t) => t.startsWith("T2")) ? true : undefined));
    expect(entries().some((e) => e.kind === "build" && e.ok && e.handlers.includes("default"))).toBe(true);
  });

  it("shows handler errors with the stack mapped to the .ts line", async () => {
    await writeFile(path.join(dir, "default.ts"), THROWING);
    const error = await until("a handler error", () => entries().find((e) => e.kind === "error"));
    if (error.kind !== "error") throw new Error("unreachable");
    expect(error.message).toMatch(/^RangeError: too many words: 2$/);
    expect(error.stack).toContain(`${path.join(dir, "default.ts")}:6:`);
    expect(error.event?.message).toMatch(/^message \d$/);
  });
});

describe("relive", () => {
  it("moves every time by the same amount and makes the uid unique", () => {
    const e = normalizeEvent({ type: "Warning", reason: "X", metadata: { uid: "u", name: "n", creationTimestamp: "2026-01-01T00:00:00Z" }, firstTimestamp: "2026-01-01T00:00:00Z", lastTimestamp: "2026-01-01T00:10:00Z" });
    const r = relive(e, Date.parse("2026-06-01T12:10:00Z"), "dev2");
    expect([r.firstTimestamp, r.lastTimestamp, r.metadata.creationTimestamp]).toEqual(["2026-06-01T12:00:00Z", "2026-06-01T12:10:00Z", "2026-06-01T12:00:00Z"]);
    expect([r.metadata.uid, r.metadata.name]).toEqual(["u-dev2", "n-dev2"]);
    expect(e.lastTimestamp).toBe("2026-01-01T00:10:00Z");
  });
});

describe("edge-alarm dev with a Feishu webhook", () => {
  let dir: string;
  let double: FeishuDouble;
  let session: DevSession;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-dev-hook-"));
    await writeFile(path.join(dir, "default.ts"), handler("H"));
    await writeFile(path.join(dir, "events.ndjson"), JSON.stringify(event(1, "Warning", "BackOff")));
    double = await startFeishuDouble({ bots: { good: { secret: "right" } } });
  });
  afterAll(async () => {
    await session?.stop();
    await double?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sends each card to the bot and says what Feishu answered", async () => {
    session = await startDev({
      dir, port: 0, cluster: "c", timezone: "UTC", logger: quiet(), replay: path.join(dir, "events.ndjson"), speed: 1000, watch: false,
      webhook: double.url("good"), secret: "wrong",
    });
    const card = await until("a sent card", () => session.inbox.entries().find((e) => e.kind === "card" && e.delivery !== undefined));
    expect(card.kind === "card" && card.delivery).toMatchObject({ ok: false, code: 19021, summary: expect.stringContaining("signature") });
    expect(double.requests("good")[0]?.code).toBe(19021);
  });
});
