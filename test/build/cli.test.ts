/** The `edge-alarm` command as a user runs it: a child process, its exit code, stdout and stderr. */
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { capture, REPO_ROOT } from "../shared-data.ts";

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "build/cli.ts"), ...args], { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, TZ: "Asia/Shanghai" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("edge-alarm CLI", () => {
  it("prints usage for help, and usage with exit 2 for no command, an unknown command or a bad flag", () => {
    expect(cli("help")).toMatchObject({ code: 0, stdout: expect.stringContaining("Usage: edge-alarm <command>") });
    expect(cli().code).toBe(2);
    const unknown = cli("deploy");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "deploy"');
    expect(unknown.stderr).toContain("Usage:");
    const badFlag = cli("replay", "--jsn", "x.json");
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/Unknown option '--jsn'/);
  });

  it("replays the bundled sample as exact request bodies plus a summary line", () => {
    const r = cli("replay", "build/samples/events.ndjson", "--json", "--cluster", "pi-site");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.at(-1)!.summary as Record<string, number>;
    const deliveries = lines.slice(0, -1) as Array<{ at: string; channel: string; body: { msg_type: string } }>;
    expect(summary.requests).toBe(deliveries.length);
    expect(summary.events).toBe(17);
    expect(summary.bytes).toBe(deliveries.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d.body)), 0));
    expect(summary.handlerErrors).toBe(0);
    for (const d of deliveries) {
      expect(d.body.msg_type).toBe("interactive");
      expect(d.channel).toBe("default");
      expect(Date.parse(d.at)).not.toBeNaN();
    }
    // Five count bumps of one crash loop: one card, not five.
    expect(deliveries.filter((d) => JSON.stringify(d.body).includes("sensor&#45;gw&#45;6d9f7c&#45;kx2lq") && JSON.stringify(d.body).includes("BackOff"))).toHaveLength(1);
    // The injected mention in the sample never becomes live.
    expect(r.stdout).not.toContain("<at id=all>");
  });

  it("names the file and line of malformed input and still replays the rest", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ea-cli-"));
    const file = path.join(dir, "events.ndjson");
    const ok = { type: "ADDED", object: { kind: "Event", metadata: { uid: "x" }, reason: "BackOff", type: "Warning", message: "m" } };
    await writeFile(file, `${JSON.stringify(ok)}\n{"type":"ADDED",\n`);
    const r = cli("replay", file, "--json");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${file}:2: not valid JSON`);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!)).toMatchObject({ summary: { events: 1, requests: 1 } });
  });

  it("replays a real node-down storm capture", () => {
    const r = cli("replay", capture("tonychengtw-k8s-ha/default/events.json"), "--json");
    expect(r.code).toBe(0);
    const summary = (JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { summary: Record<string, number> }).summary;
    expect(summary.events).toBe(2680);
    expect(summary.handlerErrors).toBe(0);
    expect(summary.requests).toBeGreaterThan(0);
  });

  it("fails with a clear message for a missing file", () => {
    const r = cli("replay", "no/such/file.json");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot read no/such/file.json: ENOENT");
  });
});
