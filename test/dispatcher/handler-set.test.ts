/** The live handler set over the real sandbox: atomic versioned swaps, and rejected bundles keep the last good version. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HandlerSet } from "../../dispatcher/handler-set.ts";
import { sha256Hex } from "../../dispatcher/handlers-configmap.ts";
import { createLogger } from "../../dispatcher/log.ts";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { Writable } from "node:stream";

const quiet = createLogger({ level: "silent", destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

/** A bundle as `edge-alarm build` would write it: an IIFE assigning the module to the handler global. */
const bundle = (title: string) =>
  `var __edgeAlarmHandler = { default: { match: { type: "Warning" }, handle: () => ({ card: { elements: [{ tag: "div", text: { tag: "plain_text", content: ${JSON.stringify(title)} } }] } }) } };\n`;

function configMap(handlers: Record<string, string>, manifestOverride?: Record<string, string>) {
  const data: Record<string, string> = {};
  const entries = Object.entries(handlers).map(([name, code]) => {
    data[`${name}.js`] = code;
    return { name, key: `${name}.js`, sha256: manifestOverride?.[name] ?? sha256Hex(code), bytes: Buffer.byteLength(code) };
  });
  data["manifest.json"] = JSON.stringify({ sdkVersion: "1", builtAt: "2026-11-27T00:00:00Z", handlers: entries });
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "edge-alarm-handlers", namespace: "monitoring", uid: "cm-uid" }, data };
}

const event = JSON.stringify({ type: "Warning", reason: "X", metadata: { uid: "e1" }, involvedObject: {} });
const ctx = { cluster: "c", timezone: "UTC", now: "2026-11-27T00:00:00Z", handler: "h" };

let sandbox: Sandbox;
let reports: Array<{ type: string; reason: string; message: string }>;
let set: HandlerSet;

async function titles(): Promise<string[]> {
  const out: string[] = [];
  for (const h of set.current()) {
    const r = await sandbox.call(h.name, event, ctx);
    if (r.ok) out.push(...r.alarms.map((a) => JSON.stringify(a.card)));
  }
  return out.map((t) => /"content":"([^"]*)"/.exec(t)?.[1] ?? "");
}

describe("HandlerSet", () => {
  beforeAll(async () => {
    sandbox = await Sandbox.create({ logger: quiet });
    reports = [];
    set = new HandlerSet(sandbox, quiet, async (type, reason, message) => void reports.push({ type, reason, message }));
  });
  afterAll(() => sandbox.close());

  it("loads a ConfigMap and reports HandlersReloaded", async () => {
    expect(set.ready).toBe(false);
    await set.apply(configMap({ a: bundle("a1"), b: bundle("b1") }));
    expect(set.ready).toBe(true);
    expect(await titles()).toEqual(["a1", "b1"]);
    expect(set.current()[0]?.match).toEqual({ type: "Warning" });
    expect(reports.at(-1)).toMatchObject({ type: "Normal", reason: "HandlersReloaded" });
  });

  it("swaps a changed handler under a new sandbox name and unloads the old one", async () => {
    const before = set.current().map((h) => h.name);
    await set.apply(configMap({ a: bundle("a2"), b: bundle("b1") }));
    const after = set.current().map((h) => h.name);
    expect(after[1]).toBe(before[1]); // unchanged bundle: not reloaded
    expect(after[0]).not.toBe(before[0]);
    expect(await titles()).toEqual(["a2", "b1"]);
    expect(sandbox.names()).not.toContain(before[0]);
  });

  it("keeps the previous version of a handler whose new bundle fails, and says why", async () => {
    await set.apply(configMap({ a: "throw new Error('nope')", b: bundle("b2") }));
    expect(await titles()).toEqual(["a2", "b2"]);
    const rejected = reports.filter((r) => r.reason === "HandlerRejected");
    expect(rejected.at(-1)?.type).toBe("Warning");
    expect(rejected.at(-1)?.message).toMatch(/handler a: .*nope.*keeping the previous version/);
  });

  it("keeps the previous version when a bundle's hash does not match its manifest", async () => {
    await set.apply(configMap({ a: bundle("tampered"), b: bundle("b2") }, { a: "0".repeat(64) }));
    expect(await titles()).toEqual(["a2", "b2"]);
    expect(reports.at(-1)?.reason).toBe("HandlerRejected");
  });

  it("removes a handler that is no longer in the ConfigMap", async () => {
    await set.apply(configMap({ b: bundle("b2") }));
    expect(await titles()).toEqual(["b2"]);
    expect(set.describe().map((d) => d.name)).toEqual(["b"]);
    expect(reports.at(-1)?.message).toContain("removed a");
  });
});

describe("HandlerSet: a handler's grouping timers", () => {
  let sb: Sandbox;
  let warnings: string[];
  let timed: HandlerSet;
  /** A bundle whose default export declares `grouping` (source text, e.g. `{ wait: "30s" }`). */
  const grouped = (grouping: string, title = "g") =>
    `var __edgeAlarmHandler = { default: { grouping: ${grouping}, handle: () => ({ card: { elements: [{ tag: "div", text: { tag: "plain_text", content: ${JSON.stringify(title)} } }] } }) } };\n`;

  beforeAll(async () => {
    sb = await Sandbox.create({ logger: quiet });
    warnings = [];
    timed = new HandlerSet(sb, quiet, async (type, _reason, message) => void (type === "Warning" && warnings.push(message)));
  });
  afterAll(() => sb.close());

  it("parses the declared durations into the handler the pipeline sees", async () => {
    await timed.apply(configMap({ slow: grouped(`{ wait: "30s", interval: "10m", repeat: "1h30m" }`), plain: bundle("p") }));
    const byName = Object.fromEntries(timed.current().map((h) => [h.name.replace(/@.*/, ""), h]));
    expect(byName.slow?.grouping).toEqual({ waitMs: 30_000, intervalMs: 600_000, repeatMs: 5_400_000 });
    expect(byName.plain && "grouping" in byName.plain).toBe(false);
    expect(warnings).toEqual([]);
  });

  const refused: Array<[string, string, RegExp]> = [
    ["a duration the grouper cannot read", `{ wait: "soon" }`, /grouping\.wait: "soon" is not a duration/],
    ["a duration out of bounds", `{ wait: "30s", repeat: "30s" }`, /grouping\.repeat must be between 1m and 168h, got 30s/],
    ["a value of the wrong type (refused by the sandbox)", `{ interval: 300 }`, /grouping\.interval must be a duration string/],
  ];
  for (const [what, grouping, message] of refused) {
    it(`rejects a new version with ${what} and keeps the previous one with its timers`, async () => {
      const before = timed.current().find((h) => h.name.startsWith("slow@"));
      await timed.apply(configMap({ slow: grouped(grouping, "new"), plain: bundle("p") }));
      const after = timed.current().find((h) => h.name.startsWith("slow@"));
      expect(after).toEqual(before);
      expect(warnings.at(-1)).toMatch(message);
      expect(warnings.at(-1)).toMatch(/^handler slow: .*\(keeping the previous version\)$/);
      // The refused version does not stay loaded in the sandbox.
      expect(sb.names().filter((n) => n.startsWith("slow@"))).toEqual([before?.name]);
    });
  }

  it("a first version with bad timers is not loaded at all", async () => {
    await timed.apply(configMap({ slow: grouped(`{ wait: "30s", interval: "10m", repeat: "1h30m" }`), plain: bundle("p"), fresh: grouped(`{ wait: "2h" }`) }));
    expect(timed.describe().map((d) => d.name)).toEqual(["plain", "slow"]);
    expect(warnings.at(-1)).toBe("handler fresh: grouping.wait must be between 0s and 1h, got 2h");
    expect(sb.names().some((n) => n.startsWith("fresh@"))).toBe(false);
  });
});
