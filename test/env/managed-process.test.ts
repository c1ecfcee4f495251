import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startManagedProcess } from "./managed-process.ts";
import { isProcessAlive } from "./pid-alive.ts";
import { isRunning } from "./proc-info.ts";

const MODULE_URL = new URL("./managed-process.ts", import.meta.url).href;
const NODE = process.execPath;

async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe("startManagedProcess", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "managed-process-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("logs output to the file and stop() ends the process", async () => {
    const logPath = join(dir, "out.log");
    const proc = startManagedProcess("sleeper", "sh", ["-c", "echo started; exec sleep 300"], logPath);
    expect(await eventually(() => isProcessAlive(proc.pid))).toBe(true);
    await proc.stop(2_000);
    expect(proc.hasExited()).toBe(true);
    expect(isProcessAlive(proc.pid)).toBe(false);
    expect(await readFile(logPath, "utf8")).toContain("started");
  });

  it("escalates to SIGKILL when SIGTERM is ignored", async () => {
    const proc = startManagedProcess("stubborn", "sh", ["-c", "trap '' TERM; while :; do sleep 0.1; done"], join(dir, "log"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await proc.stop(300);
    expect(await proc.exited).toBeNull();
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("reports a missing binary at once", () => {
    expect(() => startManagedProcess("ghost", join(dir, "no-such-binary"), [], join(dir, "log"))).toThrow(/missing or not executable/);
  });

  it("kills its children when the parent node process is killed with SIGKILL", async () => {
    // A separate node process starts a child through the module, prints the child's pid, then
    // waits; SIGKILL leaves it no chance to run any exit hook, so only the watchdog can act.
    const script = `
      const { startManagedProcess } = await import(${JSON.stringify(MODULE_URL)});
      const proc = startManagedProcess("sleeper", "sleep", ["300"], ${JSON.stringify(join(dir, "child.log"))});
      console.log(proc.pid);
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(NODE, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const childPid = await new Promise<number>((resolve, reject) => {
      parent.stdout.once("data", (chunk: Buffer) => resolve(Number.parseInt(chunk.toString(), 10)));
      parent.once("exit", (code) => reject(new Error(`parent exited early (${code})`)));
    });
    expect(isProcessAlive(childPid)).toBe(true);
    parent.kill("SIGKILL");
    // Orphans are reparented to a pid 1 that may never reap them: a zombie counts as gone.
    const died = await eventually(() => !isRunning(childPid));
    // Do not leave a 5-minute sleeper behind when the assertion fails.
    if (!died) process.kill(childPid, "SIGKILL");
    expect(died).toBe(true);
  });
});
