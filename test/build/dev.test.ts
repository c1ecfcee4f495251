/**
 * Issue 7's definition of done, as one test: from this checkout, `npx edge-alarm init` makes a
 * site, its `npm run dev` starts (no cluster here, so the sample events are replayed), and a
 * browser sees a card in the inbox. Then a save is picked up, and a failing handler shows its
 * error at the .ts line. Runs the real commands as a user would, in their own processes.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { REPO_ROOT } from "../shared-data.ts";
import { HAVE_BROWSER, launchBrowser, type Browser } from "./dev/chromium.ts";

/** The environment of someone without a cluster or a bot configured. */
function userEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, LANG: "C.UTF-8" };
  if (process.env.CI) env.CI = process.env.CI;
  return env;
}

/** Resolves with the inbox URL the dev command prints, or rejects with what it printed. */
function inboxUrl(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`dev printed no inbox URL within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /card inbox: (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`dev exited (${code}) before serving:\n${output}`)));
  });
}

describe.skipIf(!HAVE_BROWSER)("npx edge-alarm init, then dev, then a card in the browser", () => {
  let root: string;
  let site: string;
  let dev: ChildProcess | undefined;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "edge-alarm-done-"));
    site = path.join(root, "site");
    browser = await launchBrowser();
    page = await browser.context.newPage();
  }, 60_000);
  afterAll(async () => {
    if (dev?.pid !== undefined && dev.exitCode === null) {
      const exited = new Promise((r) => dev?.once("exit", r));
      process.kill(-dev.pid, "SIGTERM");
      await exited;
    }
    await browser?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("works from nothing to a previewed card", async () => {
    const init = spawnSync("npx", ["edge-alarm", "init", site], { cwd: REPO_ROOT, env: userEnv(root), encoding: "utf8" });
    expect(init.status, init.stderr).toBe(0);
    expect(init.stderr).toContain("npm run dev");

    // The scaffold's own script, as the README says; --port 0 so parallel runs do not collide.
    dev = spawn("npm", ["run", "dev", "--", "--port", "0", "--speed", "300"], { cwd: site, env: userEnv(root), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const url = await inboxUrl(dev, 30_000);

    await page.goto(url);
    const header = page.locator("[data-entry=card] .card-header").first();
    await header.waitFor({ timeout: 30_000 });
    expect(await header.textContent()).toMatch(/^dev: (BackOff|Failed|Unhealthy|NodeNotReady|Rebooted|FailedMount|OutOfcpu)$/);
    expect(await page.locator("#source").textContent()).toContain("replaying events.ndjson in a loop");
    expect(await page.locator("[data-entry=card]").first().locator("strong").first().textContent()).toMatch(/^(Pod|Node)$/);
  }, 120_000);

  it("picks up a save and shows the new card", async () => {
    const file = path.join(site, "handlers/default.ts");
    const source = await readFile(file, "utf8");
    await writeFile(file, source.replace("title: `${ctx.cluster}: ${event.reason}`", "title: `EDITED ${ctx.cluster}: ${event.reason}`"));
    await page.locator("[data-entry=card] .card-header", { hasText: /^EDITED dev: / }).first().waitFor({ timeout: 30_000 });
    expect(await page.locator("[data-entry=build]").count()).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("shows a handler error at its .ts line", async () => {
    const file = path.join(site, "handlers/default.ts");
    const lines = (await readFile(file, "utf8")).split("\n");
    const at = lines.findIndex((l) => l.includes("handle(event, ctx) {")) + 1;
    lines.splice(at, 0, '    if (event.count > 0) throw new Error("on purpose");');
    await writeFile(file, lines.join("\n"));
    const stack = page.locator("[data-entry=error] pre.stack").first();
    await stack.waitFor({ timeout: 30_000 });
    expect(await stack.textContent()).toContain(`handlers/default.ts:${at + 1}:`);
    expect(await page.locator("[data-entry=error] pre.message").first().textContent()).toBe("Error: on purpose");
  }, 60_000);
});
