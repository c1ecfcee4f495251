import { describe, expect, it } from "vitest";
import { ANSWERS } from "./answers.ts";
import { hasKeyword, mentionsAll, shapeError, visibleText } from "./message-shape.ts";

const card = (elements: unknown[], title = "Pod restarted") => ({
  msg_type: "interactive",
  card: { header: { title: { tag: "plain_text", content: title } }, elements },
});

describe("shapeError (19002)", () => {
  it("accepts the documented message shapes", () => {
    const ok = [
      card([{ tag: "div", text: { tag: "plain_text", content: "x" } }]),
      { msg_type: "interactive", card: {} },
      { msg_type: "interactive", card: { schema: "2.0", body: { elements: [{ tag: "markdown", content: "x" }] } } },
      { msg_type: "interactive", card: { type: "template", data: { template_id: "AAq" } } },
      { msg_type: "text", content: { text: "hi" } },
      { msg_type: "post", content: { post: { zh_cn: { title: "t", content: [[{ tag: "text", text: "x" }]] } } } },
      { msg_type: "image", content: { image_key: "img_v2_x" } },
      { msg_type: "share_chat", content: { share_chat_id: "oc_x" } },
    ];
    for (const body of ok) expect(shapeError(body), JSON.stringify(body)).toBeNull();
  });

  it("names what is wrong", () => {
    expect(shapeError({ card: {} })).toBe(ANSWERS.msgTypeMissing);
    expect(shapeError({ msg_type: "markdown" })).toBe(ANSWERS.msgTypeInvalid);
    expect(shapeError({ msg_type: "interactive", content: { text: "x" } })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "interactive", card: "{}" })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "interactive", card: { elements: {} } })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "interactive", card: { elements: [{ text: "no tag" }] } })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "interactive", card: { header: { title: "bare string" } } })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "interactive", card: { schema: "2.0", elements: [] } })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "interactive", card: { schema: "2.0", config: { wide_screen_mode: true } } })).toBe(ANSWERS.cardInvalid);
    expect(shapeError({ msg_type: "text", content: { text: 1 } })).toBe(ANSWERS.contentInvalid);
    expect(shapeError({ msg_type: "post", content: { post: {} } })).toBe(ANSWERS.contentInvalid);
  });
});

describe("keywords (19024)", () => {
  it("reads the header title and text contents but not links", () => {
    const body = card(
      [
        { tag: "div", fields: [{ is_short: true, text: { tag: "lark_md", content: "**ns** iot" } }] },
        { tag: "action", actions: [{ tag: "button", text: { tag: "plain_text", content: "Open" }, url: "https://x.example/ALERT" }] },
        { tag: "note", elements: [{ tag: "plain_text", content: "fp 1a2b" }] },
      ],
      "BackOff on edge-1",
    );
    expect(visibleText(body).sort()).toEqual(["**ns** iot", "BackOff on edge-1", "Open", "fp 1a2b"].sort());
    expect(hasKeyword(body, ["edge-1"])).toBe(true);
    expect(hasKeyword(body, ["ALERT"])).toBe(false);
  });

  it("reads text, post titles and post link texts", () => {
    expect(hasKeyword({ msg_type: "text", content: { text: "alarm: x" } }, ["alarm"])).toBe(true);
    const post = { msg_type: "post", content: { post: { en_us: { title: "T", content: [[{ tag: "a", text: "see", href: "https://k/alarm" }]] } } } };
    expect(hasKeyword(post, ["see"])).toBe(true);
    expect(hasKeyword(post, ["alarm"])).toBe(false);
  });
});

describe("mentionsAll", () => {
  it("finds <at id=all> in markup text, not in plain_text", () => {
    expect(mentionsAll(card([{ tag: "div", text: { tag: "lark_md", content: "hi <at id=all></at>" } }]))).toBe(true);
    expect(mentionsAll(card([{ tag: "markdown", content: '<at id="all"></at>' }]))).toBe(true);
    expect(mentionsAll(card([{ tag: "div", text: { tag: "plain_text", content: "<at id=all></at>" } }]))).toBe(false);
    expect(mentionsAll(card([{ tag: "div", text: { tag: "lark_md", content: "<at id=ou_1></at>" } }]))).toBe(false);
  });

  it("finds @all in text and post messages", () => {
    expect(mentionsAll({ msg_type: "text", content: { text: '<at user_id="all">所有人</at>' } })).toBe(true);
    expect(mentionsAll({ msg_type: "post", content: { post: { zh_cn: { content: [[{ tag: "at", user_id: "all" }]] } } } })).toBe(true);
    expect(mentionsAll({ msg_type: "text", content: { text: "all good" } })).toBe(false);
  });
});
