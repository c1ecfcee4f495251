/**
 * A handler's `grouping` timers ({ wait?, interval?, repeat? } duration strings on its default
 * export): the sandbox reports them when the bundle loads, refuses a malformed declaration with
 * a clear message, and `edge-alarm replay` then runs the handler's groups on those timers.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../../../dispatcher/sandbox/index.ts";
import { REPO_ROOT } from "../../shared-data.ts";
import { inlineBundle } from "./bundles.ts";

const handle = `handle() { return { card: {} }; }`;

describe("sandbox load: handler.grouping", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await Sandbox.create();
  });
  afterAll(() => sb.close());

  it("reports the declared timers beside match, and nothing when there are none", async () => {
    const loaded = await sb.load("timed", inlineBundle(`{ match: { type: "Warning" }, grouping: { wait: "30s", repeat: "2h" }, ${handle} }`));
    expect(loaded).toEqual({ ok: true, name: "timed", match: { type: "Warning" }, grouping: { wait: "30s", repeat: "2h" }, hasMatchFunction: false });
    const plain = await sb.load("plain", inlineBundle(`{ ${handle} }`));
    expect(plain).toEqual({ ok: true, name: "plain", hasMatchFunction: false });
    expect("grouping" in plain).toBe(false);
  });

  it("accepts a null-prototype object and skips keys set to undefined", async () => {
    const loaded = await sb.load("bare", inlineBundle(`{ grouping: Object.assign(Object.create(null), { interval: "15m", wait: undefined }), ${handle} }`));
    expect(loaded).toMatchObject({ ok: true, grouping: { interval: "15m" } });
    expect(loaded.ok && Object.keys(loaded.grouping ?? {})).toEqual(["interval"]);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ["a string", `"30s"`, /grouping must be a plain object \{ wait\?, interval\?, repeat\? \}.*got string/],
    ["null", `null`, /grouping must be a plain object.*got null/],
    ["an array", `["30s"]`, /grouping must be a plain object.*got an array/],
    ["a class instance", `new (class Timers { constructor() { this.wait = "1s"; } })()`, /grouping must be a plain object.*prototype/],
    ["an unknown key", `{ wait: "1s", group_wait: "1s" }`, /grouping has unknown key "group_wait" \(allowed: wait, interval, repeat\)/],
    ["a number", `{ wait: 30 }`, /grouping\.wait must be a duration string such as "5m", got number/],
    ["a nested object", `{ repeat: { h: 1 } }`, /grouping\.repeat must be a duration string.*got object/],
  ];
  for (const [what, source, message] of malformed) {
    it(`refuses the bundle when grouping is ${what}`, async () => {
      const loaded = await sb.load("bad", inlineBundle(`{ grouping: ${source}, ${handle} }`));
      expect(loaded.ok).toBe(false);
      expect(loaded.ok ? "" : loaded.error).toMatch(message);
      expect(loaded.ok ? "" : loaded.error).toMatch(/^handler 'bad': /);
      expect(sb.names()).not.toContain("bad");
    });
  }
});

describe("edge-alarm replay honours the timers a handler declares", () => {
  const T0 = Date.parse("2026-11-20T06:00:00Z");
  let dir: string;
  let events: string;

  /** Two pods of one Deployment start crash-looping 10 s apart: one group. */
  const backOff = (pod: string, ms: number) => ({
    type: "ADDED",
    object: {
      kind: "Event",
      metadata: { name: `${pod}.1`, namespace: "iot", uid: `uid-${pod}` },
      involvedObject: { kind: "Pod", namespace: "iot", name: pod },
      reason: "BackOff", type: "Warning", message: `Back-off restarting failed container in pod ${pod}`, count: 1,
      firstTimestamp: new Date(T0 + ms).toISOString(), lastTimestamp: new Date(T0 + ms).toISOString(),
    },
  });

  const handler = (grouping: string) => `import { card, defineHandler, div, md } from "edge-alarm/sdk";
export default defineHandler({
  match: { type: "Warning" },
  ${grouping}
  handle: (e) => ({ card: card({ title: "crash loop", elements: [div(md\`\${e.involvedObject.name}: \${e.message}\`)] }) }),
});
`;

  async function replay(grouping: string) {
    const handlers = await mkdtemp(path.join(dir, "handlers-"));
    await writeFile(path.join(handlers, "loop.ts"), handler(grouping));
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "build/cli.ts"), "replay", events, "--json", "--handlers", handlers], {
      cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, TZ: "UTC", EDGE_ALARM_GROUP_WAIT: "", EDGE_ALARM_GROUP_INTERVAL: "", EDGE_ALARM_REPEAT_INTERVAL: "" },
    });
    const lines = r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.at(-1)?.summary as Record<string, number> | undefined;
    return { code: r.status, stderr: r.stderr, summary, posts: lines.slice(0, -1) as Array<{ at: string; body: unknown }> };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "ea-grouping-decl-"));
    events = path.join(dir, "events.ndjson");
    await writeFile(events, [backOff("web-7d4b9c6f8d-q7r8s", 0), backOff("web-7d4b9c6f8d-m4n5p", 10_000)].map((e) => JSON.stringify(e)).join("\n"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("wait: 30s collects both pods into the first card; the dispatcher's 1 s wait sends the second pod as an update", async () => {
    const timed = await replay(`grouping: { wait: "30s" },`);
    expect(timed.code, timed.stderr).toBe(0);
    expect(timed.posts.map((p) => p.at)).toEqual([new Date(T0 + 30_000).toISOString()]);
    const card = JSON.stringify(timed.posts[0]?.body);
    for (const pod of ["q7r8s", "m4n5p"]) expect(card).toContain(pod);
    expect(timed.summary).toMatchObject({ events: 2, alarms: 2, groups: 1, requests: 1, suppressed: 1 });

    const defaults = await replay("");
    expect(defaults.code, defaults.stderr).toBe(0);
    // First card after the default 1 s wait, the second pod as an update one group_interval (5 min) later.
    expect(defaults.posts.map((p) => p.at)).toEqual([new Date(T0 + 1_000).toISOString(), new Date(T0 + 1_000 + 300_000).toISOString()]);
    expect(JSON.stringify(defaults.posts[0]?.body)).not.toContain("m4n5p");
    expect(defaults.summary).toMatchObject({ events: 2, alarms: 2, groups: 1, requests: 2, suppressed: 0 });
  });

  it("a malformed declaration rejects the handler with the sandbox's message", async () => {
    const r = await replay(`grouping: { wait: 30 },`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/handler loop rejected: .*grouping\.wait must be a duration string such as "5m", got number/);
    expect(r.stderr).toContain("no handler could be loaded");
  });
});
