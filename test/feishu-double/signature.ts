/**
 * The double's own check of the Feishu body signature (doc §2). Deliberately written apart from
 * the dispatcher's signer (WebCrypto here, node:crypto there) so a test that passes through both
 * is not the same code agreeing with itself.
 */

export type SignatureVerdict =
  | { ok: true }
  | { ok: false; reason: "missing" | "bad-timestamp" | "skew" | "mismatch" };

/** How far the sender's timestamp may be from the service's clock, either way (doc §2.4). */
export const MAX_SKEW_SECONDS = 3600;

const encoder = new TextEncoder();

/** Official form: HMAC-SHA256 keyed by `timestamp + "\n" + secret` over an empty message, Base64. */
export async function expectedSign(timestamp: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(`${timestamp}\n${secret}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new Uint8Array(0));
  return Buffer.from(mac).toString("base64");
}

/**
 * Checks `timestamp` and `sign` at the top level of a parsed body. The timestamp may be an integer
 * or a string of digits (the doc shows a string, common senders send a number); the key is built
 * from it exactly as sent.
 */
export async function verifySignature(
  body: Readonly<Record<string, unknown>>,
  secret: string,
  nowMs: number,
): Promise<SignatureVerdict> {
  const { timestamp, sign } = body;
  if (timestamp === undefined || typeof sign !== "string") return { ok: false, reason: "missing" };
  let text: string;
  if (typeof timestamp === "number" && Number.isSafeInteger(timestamp) && timestamp >= 0) {
    text = String(timestamp);
  } else if (typeof timestamp === "string" && /^\d{1,15}$/.test(timestamp)) {
    text = timestamp;
  } else {
    return { ok: false, reason: "bad-timestamp" };
  }
  if (Math.abs(nowMs / 1000 - Number(text)) > MAX_SKEW_SECONDS) return { ok: false, reason: "skew" };
  return sign === (await expectedSign(text, secret)) ? { ok: true } : { ok: false, reason: "mismatch" };
}
