/**
 * Feishu custom-bot body signature (shared/docs/feishu-webhook.md §2.1). The string
 * `timestamp + "\n" + secret` is the HMAC-SHA256 *key*, the message is empty, the result is
 * standard Base64. (DingTalk keys by the secret and MACs the string; Feishu rejects that with 19021.)
 */
import { createHmac } from "node:crypto";

export function signFeishu(secret: string, timestampSeconds: number): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`Feishu signing needs a whole number of Unix seconds, got ${timestampSeconds}`);
  }
  return createHmac("sha256", `${timestampSeconds}\n${secret}`).update("").digest("base64");
}
