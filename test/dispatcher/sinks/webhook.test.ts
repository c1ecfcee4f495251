import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { createWebhookSink, interpretWebhookAnswer, type WebhookPayload } from "../../../dispatcher/sinks/webhook.ts";
import { startRobotDouble, type RobotDouble } from "../../robot-doubles/robot-double.ts";
import { captureLog } from "../outbox/helpers.ts";
import { contractCard, describeSinkContract } from "./sink-contract.ts";

const PATH_TOKEN = randomUUID();
const SECRET = randomUUID();
let double: RobotDouble;
const log = captureLog("debug");
const sinks: Sink[] = [];

function sink(extra: { secret?: string; webhook?: string } = {}): Sink {
  const s = createWebhookSink({ webhook: double.url(), secret: SECRET, logger: log.logger, timeoutMs: 2000, ...extra });
  sinks.push(s);
  return s;
}

beforeAll(async () => {
  double = await startRobotDouble({ kind: "webhook", token: PATH_TOKEN, secret: SECRET });
});
afterAll(async () => {
  await double.close();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await double.clearFaults();
});

describeSinkContract("generic JSON webhook (through the robot double)", async () => ({ sink: sink(), delivered: () => double.accepted().length }));

describe("generic JSON webhook", () => {
  it("posts kind, origin, fingerprint, markdown and the card itself, signed", async () => {
    expect(await sink().send(contractCard, { kind: "alarm", channel: "ops", fingerprint: "fp1", handler: "default", eventUid: "u1", at: "2025-06-01T06:02:00Z" })).toEqual({ ok: true, code: 0 });
    const body = double.accepted().at(-1)?.body as WebhookPayload;
    expect(body).toMatchObject({ kind: "alarm", channel: "ops", fingerprint: "fp1", handler: "default", eventUid: "u1", at: "2025-06-01T06:02:00Z", title: "edge-alarm contract", body: contractCard });
    expect(body.markdown).toContain("BackOff: pod iot/reader-0 restarting");
    expect(double.accepted().at(-1)?.headers["x-edge-alarm-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it("a digest carries all its fingerprints", async () => {
    await sink().send(contractCard, { kind: "digest", fingerprints: ["a", "b"] });
    expect((double.accepted().at(-1)?.body as WebhookPayload).fingerprints).toEqual(["a", "b"]);
  });

  it("a wrong key fails the receiver's check: 401, not retryable", async () => {
    expect(await sink({ secret: "wrong" }).send(contractCard, {})).toMatchObject({ ok: false, code: 401, retryable: false });
  });

  it("2xx is success; 408/425/429/5xx retryable; other statuses not", () => {
    expect(interpretWebhookAnswer({ status: 202, text: "" })).toEqual({ ok: true, code: 0 });
    for (const status of [408, 425, 429, 500, 503]) expect(interpretWebhookAnswer({ status, text: "" })).toMatchObject({ ok: false, retryable: true });
    for (const status of [400, 401, 404, 410]) expect(interpretWebhookAnswer({ status, text: "" })).toMatchObject({ ok: false, retryable: false, code: status });
    expect(interpretWebhookAnswer({ status: 503, text: "", retryAfterMs: 30_000 })).toMatchObject({ retryAfterMs: 30_000 });
  });

  it("never logs the URL's path token or the key", async () => {
    await sink({ webhook: double.url("missing-token-path") }).send(contractCard, {});
    await sink().send(contractCard, {});
    expect(log.text()).not.toContain(PATH_TOKEN);
    expect(log.text()).not.toContain("missing-token-path");
    expect(log.text()).not.toContain(SECRET);
  });
});
