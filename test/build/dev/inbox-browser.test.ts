/**
 * The card inbox in a real browser: a known card (with hostile text in every slot) and a handler
 * error are added to a running inbox; the page must draw them as Feishu would, without ever
 * turning card text into HTML.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { startInbox, type Inbox } from "../../../build/dev/inbox-server.ts";
import { card, div, fields, md, note, actions, button, at, escapeMd, normalizeEvent } from "../../../sdk/index.ts";
import { boxes, computedStyle, HAVE_BROWSER, launchBrowser, type Box, type Browser } from "./chromium.ts";
import { decodePng } from "./png.ts";

const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

const KNOWN = card({
  title: `Disk full on pi-node-2 ${HOSTILE}`,
  template: "red",
  elements: [
    div(md`**Reason:** ${"FreeDiskSpaceFailed"}\n**Message:** ${`${HOSTILE} **not bold** [x](javascript:alert(1))`}\n${at("all")} please look`),
    fields([md`**Node:** ${"pi-node-2"}`, md`**Count:** ${7}`, { text: md`**Since:** ${"2026-11-20 14:00:00"}`, long: true }]),
    note("edge-alarm", HOSTILE),
    actions(button("Open dashboard", "https://grafana.example/d/x?a=1&b=2", "primary")),
  ],
});
// A button Feishu would refuse: the sdk forbids it, so a handler could only build it by hand.
KNOWN.elements.push({ tag: "action", actions: [{ tag: "button", text: { tag: "plain_text", content: "bad" }, url: "javascript:alert(3)", type: "danger" }] });

describe.skipIf(!HAVE_BROWSER)("card inbox in chromium", () => {
  let inbox: Inbox;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    inbox = await startInbox({ port: 0 });
    const event = normalizeEvent({ type: "Warning", reason: "FreeDiskSpaceFailed", message: HOSTILE, involvedObject: { kind: "Node", name: "pi-node-2" } });
    inbox.add({ kind: "card", handler: "default", channel: "default", card: KNOWN, bytes: 1234, truncated: false, event, logs: [{ level: "log", message: "hello <b>x</b>" }] });
    inbox.add({ kind: "error", handler: "nightly", failure: "throw", message: "TypeError: cannot read property 'x' of undefined", stack: "    at handle (handlers/nightly.ts:12:7)", event, logs: [] });
    inbox.setStatus({ source: "test", events: 2, alarms: 1, errors: 1, handlers: ["default", "nightly"] });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(inbox.url);
    await page.waitForSelector("[data-entry=card] .card");
    await page.waitForSelector("[data-entry=error]");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await inbox?.close();
  });

  it("draws the header in the template's colour, with the title as text", async () => {
    const header = page.locator("[data-entry=card] .card-header");
    expect(await header.textContent()).toBe(`Disk full on pi-node-2 ${HOSTILE}`);
    expect(await computedStyle(header, "backgroundColor")).toBe("rgb(245, 74, 69)");
    expect(await computedStyle(header, "color")).toBe("rgb(255, 255, 255)");
  });

  it("never turns card text into HTML", async () => {
    expect(await page.locator(".card img, .card script, section script").count()).toBe(0);
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    const body = await page.locator("[data-entry=card] .card-body .md").first().textContent();
    expect(body).toContain(`Message: ${HOSTILE} **not bold** [x](javascript:alert(1))`);
    expect(await page.locator("[data-entry=card] a[href^='javascript']").count()).toBe(0);
    expect(await page.locator("[data-entry=card] .note").textContent()).toBe(`edge-alarm ${HOSTILE}`);
  });

  it("renders lark_md: bold labels, decoded entities, mentions, line breaks", async () => {
    const first = page.locator("[data-entry=card] .card-body .md").first();
    expect(await first.locator("strong").allTextContents()).toEqual(["Reason:", "Message:"]);
    expect(await first.locator(".at").textContent()).toBe("@all");
    expect(await first.locator("br").count()).toBe(2);
    // The escaped text really was entity-escaped (the sdk's md), and the page decoded it.
    expect(KNOWN.elements[0] && JSON.stringify(KNOWN.elements[0])).toContain(escapeMd("<img"));
  });

  it("lays short fields side by side and a long one across", async () => {
    const fieldBoxes = await boxes(page.locator("[data-entry=card] .fields .field"));
    expect(fieldBoxes).toHaveLength(3);
    const [a, b, c] = fieldBoxes as [Box, Box, Box];
    expect(a.top).toBe(b.top);
    expect(b.left).toBeGreaterThan(a.left + a.width / 2);
    expect(c.top).toBeGreaterThan(a.top);
    expect(c.width).toBeGreaterThan(a.width * 1.8);
  });

  it("keeps buttons to http(s) links", async () => {
    const buttons = page.locator("[data-entry=card] .actions .button");
    expect(await buttons.count()).toBe(2);
    expect(await buttons.nth(0).getAttribute("href")).toBe("https://grafana.example/d/x?a=1&b=2");
    expect(await buttons.nth(1).getAttribute("href")).toBeNull();
  });

  it("shows the event and the handler's console, and errors with their stack", async () => {
    expect(await page.locator("[data-entry=card] details pre").first().textContent()).toContain('"reason": "FreeDiskSpaceFailed"');
    expect(await page.locator("[data-entry=card] details pre").nth(1).textContent()).toContain("log: hello <b>x</b>");
    const error = page.locator("[data-entry=error]");
    expect(await error.locator("h3").textContent()).toContain("handler nightly failed (throw)");
    expect(await error.locator("pre.stack").textContent()).toBe("    at handle (handlers/nightly.ts:12:7)");
    expect(await page.locator("#counts").textContent()).toBe("2 events · 1 cards · 1 errors · handlers: default, nightly");
  });

  it("adds entries live, newest first", async () => {
    inbox.add({ kind: "card", handler: "late", channel: "ops", card: card({ title: "Later", template: "blue", elements: [div("x")] }), bytes: 10, truncated: false, event: null, logs: [] });
    await page.waitForSelector("[data-entry=card] >> text=Later");
    expect(await page.locator("section").first().locator(".card-header").textContent()).toBe("Later");
  });

  it("screenshots as expected: a full page, the red header", async () => {
    const shot = decodePng(await page.screenshot());
    expect([shot.width, shot.height]).toEqual([1000, 1400]);
    const header = page.locator("[data-entry=card] .card-header").nth(1);
    const png = await header.screenshot();
    expect(png.length).toBeGreaterThan(1000);
    const h = decodePng(png);
    const [r, g, b] = h.pixel(h.width - 4, Math.floor(h.height / 2));
    expect(Math.abs(r - 245) + Math.abs(g - 74) + Math.abs(b - 69)).toBeLessThan(12);
  });
});
