/**
 * DingTalk custom-robot signature (shared/docs/feishu-webhook.md §8.1): HMAC-SHA256 keyed by the
 * secret over `timestamp + "\n" + secret`, with the timestamp in milliseconds, standard Base64.
 * It travels URL-encoded in the query (`&timestamp=…&sign=…`), not in the body. This is the form
 * Feishu rejects; the two must not be mixed up.
 */
import { createHmac } from "node:crypto";

export function signDingTalk(secret: string, timestampMs: number): string {
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new RangeError(`DingTalk signing needs a whole number of Unix milliseconds, got ${timestampMs}`);
  }
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64");
}
