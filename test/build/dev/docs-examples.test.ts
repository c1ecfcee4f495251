/**
 * The worked examples of docs/handlers.md are real handlers in docs/examples: they must
 * type-check as `edge-alarm check` checks a site's handlers, and do what the docs say.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHandlers } from "../../../build/bundle.ts";
import { checkHandlers } from "../../../build/check.ts";
import { Sandbox } from "../../../dispatcher/sandbox/index.ts";
import { escapeMd, normalizeEvent, type Alarm } from "../../../sdk/index.ts";
import { REPO_ROOT } from "../../shared-data.ts";

const EXAMPLES = path.join(REPO_ROOT, "docs/examples");
const NIGHT = "2026-11-20T15:30:00Z"; // 23:30 in Asia/Shanghai
const DAY = "2026-11-20T04:00:00Z"; // 12:00

function warning(fields: { namespace?: string; kind?: string; name?: string; reason: string; message?: string }) {
  return normalizeEvent({
    type: "Warning", reason: fields.reason, message: fields.message ?? "something failed", count: 2,
    metadata: { name: "e", namespace: fields.namespace ?? "", uid: "u" },
    involvedObject: { kind: fields.kind ?? "Pod", name: fields.name ?? "pod-1", namespace: fields.namespace ?? "" },
    lastTimestamp: DAY,
  });
}

describe("docs/examples", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await Sandbox.create();
    for (const b of await bundleHandlers(EXAMPLES)) expect(await sandbox.load(b.name, b.code)).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  async function run(handler: string, event: ReturnType<typeof warning>, now = DAY): Promise<Alarm[]> {
    const outcome = await sandbox.call(handler, JSON.stringify(event), { cluster: "pi-farm", timezone: "Asia/Shanghai", now });
    if (!outcome.ok) throw new Error(`${handler}: ${outcome.message}`);
    return outcome.alarms;
  }
  const text = (alarms: Alarm[]) => JSON.stringify(alarms);

  it("type-check like a site's handlers", async () => {
    expect(await checkHandlers(EXAMPLES)).toEqual({ ok: true, diagnostics: [] });
  });

  it("silence-night: quiet for the lab at night only", async () => {
    expect(await run("silence-night", warning({ namespace: "lab", reason: "BackOff" }), NIGHT)).toEqual([]);
    expect(await run("silence-night", warning({ namespace: "lab", reason: "BackOff" }), DAY)).toHaveLength(1);
    expect(await run("silence-night", warning({ namespace: "iot", reason: "BackOff" }), NIGHT)).toHaveLength(1);
  });

  it("route-by-namespace: picks the owner's channel, else the default", async () => {
    expect((await run("route-by-namespace", warning({ namespace: "payments", reason: "BackOff" })))[0]?.channel).toBe("payments-oncall");
    expect((await run("route-by-namespace", warning({ namespace: "iot-gateway", reason: "BackOff" })))[0]?.channel).toBe("iot-ops");
    const other = await run("route-by-namespace", warning({ namespace: "web", reason: "BackOff" }));
    expect(other).toHaveLength(1);
    expect(other[0]?.channel).toBeUndefined();
  });

  it("node-oncall: mentions on-call for node failures only", async () => {
    const node = await run("node-oncall", warning({ kind: "Node", name: "pi-node-3", reason: "NodeNotReady" }));
    expect(text(node)).toContain("<at id=ou_7d8a6e6df7621556ce0d21922b676706></at>");
    const pod = await run("node-oncall", warning({ reason: "BackOff", message: "<at id=all></at>" }));
    expect(text(pod)).not.toContain("<at");
  });

  it("image-pull-digest: one group per namespace, only for pull failures", async () => {
    const pull = await run("image-pull-digest", warning({ namespace: "iot", reason: "Failed", message: 'Failed to pull image "registry.local:5000/iot/cam:2.1": not found' }));
    expect(pull[0]?.group).toBe("image-pull/iot");
    expect(text(pull)).toContain(escapeMd("registry.local:5000/iot/cam:2.1"));
    expect(await run("image-pull-digest", warning({ namespace: "iot", reason: "BackOff", message: "Back-off restarting failed container" }))).toEqual([]);
  });
});
