import { describe, expect, it } from "vitest";
import { expectedSign, MAX_SKEW_SECONDS, verifySignature } from "./signature.ts";

// Worked vectors from shared/docs/feishu-webhook.md §2.3.
const VECTORS = [
  { timestamp: 1599360473, secret: "demo", sign: "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=" },
  { timestamp: 1599360473, secret: "test-secret", sign: "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=" },
  { timestamp: 1700000000, secret: "SEC-test", sign: "wVkXGs7tnGGdFP0ROb5TA58qvnldaoxe43r/OZmowJ8=" },
];
const DINGTALK_STYLE_DEMO = "DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ=";

describe("double signature checker", () => {
  it.each(VECTORS)("computes the documented sign for ($timestamp, $secret)", async ({ timestamp, secret, sign }) => {
    expect(await expectedSign(String(timestamp), secret)).toBe(sign);
  });

  it("accepts the timestamp as an integer or as a string of digits", async () => {
    const now = 1599360473_000;
    const sign = VECTORS[0]!.sign;
    expect(await verifySignature({ timestamp: 1599360473, sign }, "demo", now)).toEqual({ ok: true });
    expect(await verifySignature({ timestamp: "1599360473", sign }, "demo", now)).toEqual({ ok: true });
  });

  it("rejects the DingTalk-style signature (key = secret, message = stringToSign)", async () => {
    const verdict = await verifySignature({ timestamp: 1599360473, sign: DINGTALK_STYLE_DEMO }, "demo", 1599360473_000);
    expect(verdict).toEqual({ ok: false, reason: "mismatch" });
  });

  it("allows up to one hour of skew either way, and no more", async () => {
    const ts = 1700000000;
    const body = { timestamp: ts, sign: await expectedSign(String(ts), "s") };
    for (const offset of [-MAX_SKEW_SECONDS, MAX_SKEW_SECONDS]) {
      expect(await verifySignature(body, "s", (ts + offset) * 1000)).toEqual({ ok: true });
    }
    for (const offset of [-MAX_SKEW_SECONDS - 1, MAX_SKEW_SECONDS + 1]) {
      expect(await verifySignature(body, "s", (ts + offset) * 1000)).toEqual({ ok: false, reason: "skew" });
    }
  });

  it("tells missing fields from malformed timestamps", async () => {
    const now = 1700000000_000;
    expect(await verifySignature({ msg_type: "text" }, "s", now)).toEqual({ ok: false, reason: "missing" });
    expect(await verifySignature({ timestamp: 1700000000 }, "s", now)).toEqual({ ok: false, reason: "missing" });
    for (const timestamp of [1700000000.5, "17e8", "", -1, null]) {
      expect(await verifySignature({ timestamp, sign: "x" }, "s", now)).toEqual({ ok: false, reason: "bad-timestamp" });
    }
  });
});
