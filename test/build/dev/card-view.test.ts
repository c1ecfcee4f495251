import { describe, expect, it } from "vitest";
import { cardView } from "../../../build/dev/inbox/card-view.ts";
import { actions, button, card, div, fields, hr, md, note } from "../../../sdk/index.ts";

describe("cardView", () => {
  it("turns an sdk card into header, text, fields, divider, note and buttons", () => {
    const view = cardView(
      card({
        title: "<b>t</b>",
        template: "orange",
        elements: [div(md`**A** ${"<x>"}`), fields(["left", md`**right**`, { text: "wide", long: true }]), hr(), note("n1", md`*n2*`), actions(button("Go", "https://go.example", "danger"))],
      }),
    );
    expect(view.header).toEqual({ title: [{ t: "text", text: "<b>t</b>" }], template: "orange", background: "#ff8800", foreground: "#ffffff" });
    expect(view.blocks.map((b) => b.t)).toEqual(["text", "fields", "hr", "note", "actions"]);
    expect(view.blocks[0]).toEqual({ t: "text", content: [{ t: "b", children: [{ t: "text", text: "A" }] }, { t: "text", text: " <x>" }] });
    const fieldsBlock = view.blocks[1];
    expect(fieldsBlock?.t === "fields" && fieldsBlock.fields.map((f) => f.short)).toEqual([true, true, false]);
    expect(view.blocks[4]).toEqual({ t: "actions", buttons: [{ label: [{ t: "text", text: "Go" }], href: "https://go.example", type: "danger" }] });
  });

  it("shows plain_text as written, entities included, with its line breaks", () => {
    const view = cardView({ elements: [{ tag: "div", text: { tag: "plain_text", content: "a &#42;\nb" } }] });
    expect(view.blocks[0]).toEqual({ t: "text", content: [{ t: "text", text: "a &#42;" }, { t: "br" }, { t: "text", text: "b" }] });
  });

  it("never fails on unexpected input", () => {
    expect(cardView(null)).toEqual({ blocks: [] });
    expect(cardView({ header: { title: 3, template: "neon" }, elements: [{ tag: "img", img_key: "k" }, 7, { tag: "markdown", content: "**m**" }] })).toEqual({
      header: { title: [], template: "default", background: "#f2f3f5", foreground: "#1f2329" },
      blocks: [{ t: "unsupported", tag: "img" }, { t: "unsupported", tag: "number" }, { t: "text", content: [{ t: "b", children: [{ t: "text", text: "m" }] }] }],
    });
  });
});
