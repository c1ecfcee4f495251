import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeEntities, larkMdText, parseLarkMd, safeHref } from "../../../build/dev/inbox/lark-md.ts";
import { at, escapeMd, link, md } from "../../../sdk/index.ts";

describe("parseLarkMd", () => {
  it("reads bold, italic, strike, links, mentions, colours and line breaks", () => {
    expect(parseLarkMd("**Pod:** x\n*it* ~~gone~~ [docs](https://a.example/x) <at id=ou_1></at> <font color='red'>hot</font>")).toEqual([
      { t: "b", children: [{ t: "text", text: "Pod:" }] },
      { t: "text", text: " x" },
      { t: "br" },
      { t: "i", children: [{ t: "text", text: "it" }] },
      { t: "text", text: " " },
      { t: "s", children: [{ t: "text", text: "gone" }] },
      { t: "text", text: " " },
      { t: "a", href: "https://a.example/x", children: [{ t: "text", text: "docs" }] },
      { t: "text", text: " " },
      { t: "at", who: "ou_1" },
      { t: "text", text: " " },
      { t: "font", color: "red", children: [{ t: "text", text: "hot" }] },
    ]);
  });

  it("decodes entities only after reading the markup, as Feishu does", () => {
    expect(parseLarkMd("&#42;&#42;not bold&#42;&#42; &lt;at id=all&gt;&lt;/at&gt; &#x41;&amp;")).toEqual([{ t: "text", text: "**not bold** <at id=all></at> A&" }]);
  });

  it("keeps links that Feishu would not open as text", () => {
    expect(larkMdText(parseLarkMd("[x](javascript:alert(1))"))).toBe("[x](javascript:alert(1))");
    expect(parseLarkMd("[x](javascript:alert(1))").some((n) => n.t === "a")).toBe(false);
    expect(safeHref("https://ok.example/a?b=1")).toBe("https://ok.example/a?b=1");
    expect(safeHref("data:text/html,<script>")).toBeUndefined();
  });

  it("shows what the sdk's md builds: markup from the author, text from the data", () => {
    const nodes = parseLarkMd(md`**Message:** ${"**x** <at id=all></at> [a](https://b.example)"} ${at("ou_2")} ${link("docs", "https://d.example")}`.content);
    expect(nodes[0]).toEqual({ t: "b", children: [{ t: "text", text: "Message:" }] });
    expect(nodes[1]).toEqual({ t: "text", text: " **x** <at id=all></at> [a](https://b.example) " });
    expect(nodes[2]).toEqual({ t: "at", who: "ou_2" });
    expect(nodes[4]).toEqual({ t: "a", href: "https://d.example", children: [{ t: "text", text: "docs" }] });
  });

  it("turns any escaped string back into exactly that text, never markup", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const nodes = parseLarkMd(escapeMd(s));
        expect(nodes.every((n) => n.t === "text" || n.t === "br")).toBe(true);
        expect(larkMdText(nodes)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it("decodes the entity names Feishu documents", () => {
    expect(decodeEntities("a&nbsp;b&sim;c&#128512;&bogus;")).toBe("a\u00a0b~c😀&bogus;");
  });
});
