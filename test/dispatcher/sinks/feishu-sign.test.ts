import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signFeishu } from "../../../dispatcher/sinks/feishu-sign.ts";

// Worked vectors from shared/docs/feishu-webhook.md §2.3.
const VECTORS = [
  { secret: "demo", timestamp: 1599360473, sign: "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=" },
  { secret: "test-secret", timestamp: 1599360473, sign: "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=" },
  { secret: "SEC-test", timestamp: 1700000000, sign: "wVkXGs7tnGGdFP0ROb5TA58qvnldaoxe43r/OZmowJ8=" },
];

describe("signFeishu", () => {
  it.each(VECTORS)("gives the documented sign for ($timestamp, $secret)", ({ secret, timestamp, sign }) => {
    expect(signFeishu(secret, timestamp)).toBe(sign);
  });

  it("is not the DingTalk form (key = secret, message = timestamp + LF + secret)", () => {
    const dingTalk = createHmac("sha256", "demo").update("1599360473\ndemo").digest("base64");
    expect(dingTalk).toBe("DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ=");
    expect(signFeishu("demo", 1599360473)).not.toBe(dingTalk);
  });

  it("refuses timestamps that are not whole seconds", () => {
    expect(() => signFeishu("demo", 1599360473000.5)).toThrow(RangeError);
    expect(() => signFeishu("demo", Number.NaN)).toThrow(/whole number of Unix seconds/);
  });
});
