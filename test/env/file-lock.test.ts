import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock } from "./file-lock.ts";

describe("acquireFileLock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "file-lock-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes a second holder wait until the first releases", async () => {
    const path = join(dir, "lock");
    const first = await acquireFileLock(path);
    expect((await readFile(path, "utf8")).trim()).toBe(String(process.pid));

    const order: string[] = [];
    let waitedFor: number | undefined;
    const second = acquireFileLock(path, (owner) => (waitedFor = owner)).then((lock) => {
      order.push("second acquired");
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    order.push("first released");
    await first.release();
    const lock = await second;
    expect(order).toEqual(["first released", "second acquired"]);
    expect(waitedFor).toBe(process.pid);
    await lock.release();
  });

  it("takes over a lock left by a dead process", async () => {
    const path = join(dir, "lock");
    // A pid that certainly existed and is gone: a child that has already exited.
    const child = spawn("true");
    const deadPid = child.pid!;
    await new Promise((resolve) => child.on("exit", resolve));
    await writeFile(path, `${deadPid}\n`);

    const lock = await acquireFileLock(path, () => {
      throw new Error("must not wait for a dead owner");
    });
    expect((await readFile(path, "utf8")).trim()).toBe(String(process.pid));
    await lock.release();
  });
});
