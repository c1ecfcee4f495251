import { describe, expect, it } from "vitest";
import { buildFeishuBody, BODY_LIMIT_BYTES, SIGNATURE_RESERVE_BYTES } from "../../../dispatcher/pipeline/feishu-body.ts";
import { card, div, md, note } from "../../../sdk/index.ts";

const budget = BODY_LIMIT_BYTES - SIGNATURE_RESERVE_BYTES;

describe("buildFeishuBody", () => {
  it("wraps a small card untouched", () => {
    const c = card({ title: "t", elements: [div("hello")] });
    const b = buildFeishuBody(c);
    expect(b.truncated).toBe(false);
    expect(JSON.parse(b.json)).toEqual({ msg_type: "interactive", card: c });
    expect(b.bytes).toBe(Buffer.byteLength(b.json));
  });

  it("cuts an oversized message to fit with a visible marker, without breaking entities", () => {
    const message = "<at id=all></at> 重启失败 ".repeat(3000);
    const c = card({ title: "t", elements: [div(md`**EventMessage:** ${message}`), note("fp")] });
    const b = buildFeishuBody(c);
    expect(b.truncated).toBe(true);
    expect(b.bytes).toBeLessThanOrEqual(budget);
    expect(b.json).toContain("…(truncated)");
    expect(b.json).toContain("truncated to fit");
    const content = (b.body.card.elements[0] as { text: { content: string } }).text.content;
    expect(content.replace(" …(truncated)", "")).toMatch(/(&#\d+;|[^&#\d])$/);
    expect(content).not.toContain("<at");
    // The original card object is not modified.
    expect(JSON.stringify(c).length).toBeGreaterThan(budget);
  });

  it("drops elements when many small ones overflow", () => {
    const c = card({ title: "t", elements: Array.from({ length: 2000 }, (_, i) => div(`line ${i}`)) });
    const b = buildFeishuBody(c);
    expect(b.truncated).toBe(true);
    expect(b.bytes).toBeLessThanOrEqual(budget);
    expect(b.body.card.elements.length).toBeLessThan(2000);
    expect(b.body.card.elements.length).toBeGreaterThan(100); // cut to fit, not replaced by the fallback notice
    expect(b.body.card.elements.at(-1)).toMatchObject({ tag: "note" });
  });

  it("replaces a card that cannot be cut (huge title) by a small notice", () => {
    const b = buildFeishuBody(card({ title: "x".repeat(50_000), elements: [] }));
    expect(b.bytes).toBeLessThanOrEqual(budget);
    expect(b.truncated).toBe(true);
  });
});
