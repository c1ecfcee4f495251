/**
 * Debian's chromium driven by playwright-core, for the card inbox tests. Without either, the
 * tests are skipped locally but fail in CI (CI=true), saying what to install.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BrowserContext, Locator } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
export const CHROMIUM = CANDIDATES.find((p): p is string => typeof p === "string" && existsSync(p));

let playwright: typeof import("playwright-core") | undefined;
try {
  playwright = await import("playwright-core");
} catch {
  playwright = undefined; // reported below
}

const missing = [
  ...(CHROMIUM ? [] : ["chromium (apt-get install -y chromium, or set CHROMIUM_PATH)"]),
  ...(playwright ? [] : ["playwright-core (npm install -D playwright-core@1.65.1)"]),
];
if (missing.length && process.env.CI === "true") {
  throw new Error(`the card inbox browser tests need ${missing.join(" and ")}`);
}

/** True when the browser tests can run here. */
export const HAVE_BROWSER = missing.length === 0;

/** Flags for a closed network: without the background-networking ones chromium stalls on lookups. */
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless chromium with a fresh profile (its --user-data-dir), removed on close. */
export async function launchBrowser(viewport = { width: 1000, height: 1400 }): Promise<Browser> {
  if (!playwright || !CHROMIUM) throw new Error(`missing ${missing.join(" and ")}`);
  const profile = await mkdtemp(path.join(tmpdir(), "edge-alarm-chromium-"));
  const context = await playwright.chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** getComputedStyle(el)[prop] in the page (tests are type-checked without the DOM library). */
export function computedStyle(locator: Locator, prop: string): Promise<string> {
  return locator.evaluate((el, p) => (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(el)[p] ?? "", prop);
}

export interface Box {
  top: number;
  left: number;
  width: number;
}

/** The bounding boxes of every element the locator matches. */
export function boxes(locator: Locator): Promise<Box[]> {
  return locator.evaluateAll((els) =>
    els.map((e) => {
      const r = (e as unknown as { getBoundingClientRect(): Box }).getBoundingClientRect();
      return { top: r.top, left: r.left, width: r.width };
    }),
  );
}
