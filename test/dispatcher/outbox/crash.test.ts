/**
 * kill -9 with a non-empty spool: a child process runs the outbox with the link down and keeps
 * enqueueing; it is SIGKILLed mid-stream (most likely inside a write). A new outbox on the same
 * state dir, with the link up, must deliver every alarm the child had acknowledged as spooled.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutbox } from "../../../dispatcher/outbox/outbox.ts";
import { createFeishuSink } from "../../../dispatcher/sinks/feishu.ts";
import { startFeishuDouble, type FeishuDouble } from "../../feishu-double/double.ts";
import { captureLog, cardText, offMarkClock } from "./helpers.ts";

const TOKEN = randomUUID();
const SECRET = `SEC${randomUUID().replaceAll("-", "")}`;
const root = fileURLToPath(new URL("../../../", import.meta.url));
const CHILD = fileURLToPath(new URL("./spool-child.ts", import.meta.url));

let double: FeishuDouble;
let stateDir: string;

beforeAll(async () => {
  double = await startFeishuDouble({ bots: { [TOKEN]: { secret: SECRET } } });
  stateDir = await mkdtemp(path.join(tmpdir(), "edge-alarm-crash-"));
});
afterAll(async () => {
  await double.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** Runs the child until it acknowledged `count` alarms, then SIGKILLs it; resolves with the acked indexes. */
function runChildAndKill(count: number): Promise<{ acked: number[]; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, "node_modules/.bin/node"), [CHILD, stateDir, double.url(TOKEN), SECRET], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const acked: number[] = [];
    let buffered = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child acknowledged only ${acked.length} alarms in time; stderr: ${stderr.slice(-2000)}`));
    }, 20_000);
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^acked (\d+)$/.exec(line);
        if (m) acked.push(Number(m[1]));
      }
      if (acked.length >= count && !child.killed) child.kill("SIGKILL");
    });
    child.on("exit", (_code, signal) => {
      clearTimeout(timer);
      resolve({ acked, signal });
    });
    child.on("error", reject);
  });
}

describe("outbox: kill -9 with a non-empty spool", () => {
  it("delivers every acknowledged alarm after a restart on the same state dir", async () => {
    await double.fault({ kind: "link-down" });
    const { acked, signal } = await runChildAndKill(120);
    expect(signal).toBe("SIGKILL");
    expect(acked.length).toBeGreaterThanOrEqual(120);
    await double.clearFaults();

    const log = captureLog("info");
    const sink = createFeishuSink({ webhook: double.url(TOKEN), secret: SECRET, logger: log.logger, timeoutMs: 2000 });
    const outbox = await createOutbox({ stateDir, sinks: new Map([["default", sink]]), logger: log.logger, clock: offMarkClock() });
    expect(outbox.stats().pending).toBeGreaterThanOrEqual(acked.length);
    outbox.start();
    await outbox.drain(20_000);
    await outbox.stop();
    await sink.close();

    const text = double.accepted(TOKEN).map((m) => cardText(m.body)).join("\n");
    const missing = acked.filter((i) => !text.includes(`fp${String(i).padStart(10, "0")}`));
    expect(missing).toEqual([]);
    // As digests, not one card per alarm.
    expect(double.accepted(TOKEN).length).toBeLessThan(acked.length / 10);
    expect(log.lines().some((l) => l.msg === "spool loaded: undelivered alarms from before the restart")).toBe(true);
  });
});
