import { describe, expect, it } from "vitest";
import { card, div, fields, md, note, actions, button, at, link } from "../../../sdk/index.ts";
import { neutralizeMarkdown, renderBodyMarkdown, renderCardMarkdown, truncateBytes } from "../../../dispatcher/sinks/card-markdown.ts";

const hostile = "pod <@zhangsan> @all @13800138000 [click](http://evil.example) <font color=red>x</font> **bold**";

describe("card → Markdown", () => {
  const alarm = card({
    title: "edge-1 alarm",
    template: "red",
    elements: [
      div(md`**EventReason:** ${"BackOff"}
**EventMessage:** ${hostile}`),
      fields([md`**Object:** ${"iot/reader-0"}`, md`**Node:** ${"node-a"}`]),
      note("edge-alarm · UTC · fingerprint 3f2a9c1b0d4e"),
      actions(button("Runbook", "https://wiki.example/runbook")),
    ],
  });

  it("keeps the author's structure: heading, bold labels, lines, note, buttons as links", () => {
    const { title, text } = renderCardMarkdown(alarm, "dingtalk");
    expect(title).toBe("edge-1 alarm");
    expect(text.split("\n\n")[0]).toBe("### edge-1 alarm");
    expect(text).toContain("**EventReason:** BackOff  \n**EventMessage:**");
    expect(text).toContain("**Object:** iot/reader-0  \n**Node:** node-a");
    expect(text).toContain("> edge-alarm · UTC · fingerprint 3f2a9c1b0d4e");
    expect(text).toContain("[Runbook](https://wiki.example/runbook)");
    expect(renderCardMarkdown(alarm, "wecom").text.startsWith("**edge-1 alarm**")).toBe(true);
  });

  it.each(["dingtalk", "wecom"] as const)("event text cannot mention, link or tag in %s (lark_md entities and plain_text alike)", (flavor) => {
    for (const body of [alarm, card({ title: "t", elements: [div(hostile)] })]) {
      const { text } = renderCardMarkdown(body, flavor);
      expect(text).not.toContain("<@");
      expect(text).not.toMatch(/@all/);
      expect(text).not.toMatch(/@\d/);
      expect(text).not.toContain("](http://evil");
      expect(text).not.toContain("<font");
      // It still reads the same once the invisible breaks are ignored.
      expect(text.replaceAll("\u200b", "")).toContain("pod <@zhangsan> @all @13800138000 [click](http://evil.example)");
    }
  });

  it("drops Feishu mentions and keeps the author's links", () => {
    const withMention = card({ title: "t", elements: [div(md`${at("all")} see ${link("logs", "https://logs.example/x")}`)] });
    const { text } = renderCardMarkdown(withMention, "wecom");
    expect(text).not.toContain("<at");
    expect(text).toContain("[logs](https://logs.example/x)");
  });

  it("reads 2.0 cards (body.elements) and Feishu text messages", () => {
    expect(renderCardMarkdown({ schema: "2.0", body: { elements: [{ tag: "markdown", content: "**hi** &#64;all" }] } }, "wecom").text).toBe("**hi** @\u200ball");
    expect(renderBodyMarkdown({ content: { text: "line <@x>\nnext" } }, "dingtalk")).toEqual({ title: "line <@x>", text: "line <\u200b@x>  \nnext" });
  });

  it("neutralizeMarkdown and truncateBytes", () => {
    expect(neutralizeMarkdown("a\nb")).toBe("a  \nb");
    const cut = truncateBytes("字".repeat(100), 50);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(50);
    expect(cut).toMatch(/^字+\n\n…\(truncated\)$/);
    expect(truncateBytes("short", 50)).toBe("short");
  });
});
