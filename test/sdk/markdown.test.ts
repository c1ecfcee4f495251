import { describe, expect, it } from "vitest";
import { at, card, div, escapeMd, fields, link, md, note, raw, button } from "../../sdk/index.ts";

const decode = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));

describe("escaping by construction", () => {
  const hostile = [
    "<at id=all></at>",
    "<at user_id=\"all\">everyone</at>",
    "[click](https://evil.example/x)",
    "**bold** _it_ ~~s~~ `code`",
    "<font color=red>x</font> <a href='https://evil.example'>y</a>",
    ":OK: https://evil.example/中文",
    "&#60;at id=all&#62;&#60;/at&#62;",
    "1. list\n- item\n# heading",
  ];

  it.each(hostile)("leaves no live markup in %j", (text) => {
    const out = md`**EventMessage:** ${text}`.content;
    const value = out.slice("**EventMessage:** ".length);
    expect(value).not.toMatch(/[<>[\]()*_~`]|:\/\/|&(?!#\d+;)/);
    expect(value).not.toMatch(/<at|<a |<font|\]\(|\*\*/);
    // Decoding the entities gives back exactly the original text: nothing was lost, only neutralised.
    expect(decode(value)).toBe(text);
  });

  it("escapes & so pre-encoded entities in data are shown literally, not decoded", () => {
    expect(escapeMd("&#60;at id=all&#62;")).not.toContain("&#60;at");
    expect(escapeMd("&#60;")).toBe("&#38;&#35;60;");
    expect(decode(escapeMd("&#60;"))).toBe("&#60;");
  });

  it("keeps the author's literal Markdown and trusted parts", () => {
    const m = md`**Pod:** ${"web-1"} ${at("ou_abc123")} ${link("runbook", "https://wiki.example/rb?x=1")} ${raw("*fixed*")}`;
    expect(m.content).toBe("**Pod:** web&#45;1 <at id=ou_abc123></at> [runbook](https://wiki.example/rb?x=1) *fixed*");
  });

  it("refuses mentions and URLs built from hostile data", () => {
    expect(() => at("all></at><at id=ou_x")).toThrow(/not a Feishu user id/);
    expect(() => link("x", "javascript:alert(1)")).toThrow(/http/);
    expect(() => button("x", "https://ok.example/a b")).toThrow(/http/);
    expect(() => button("x", "ftp://files.example/")).toThrow(/http/);
  });

  it("puts plain strings into plain_text, which Feishu never renders as markup", () => {
    const c = card({ title: "<at id=all></at> cluster", template: "red", elements: [div("<at id=all></at>"), note("x"), fields(["a", md`b`])] });
    expect(c.header?.title).toEqual({ tag: "plain_text", content: "<at id=all></at> cluster" });
    expect(c.elements[0]).toEqual({ tag: "div", text: { tag: "plain_text", content: "<at id=all></at>" } });
    expect(c.elements[2]).toEqual({
      tag: "div",
      fields: [{ is_short: true, text: { tag: "plain_text", content: "a" } }, { is_short: true, text: { tag: "lark_md", content: "b" } }],
    });
  });
});
