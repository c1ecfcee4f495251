/**
 * A sink that keeps every message it is given, for replay output and for tests of the pipeline
 * (no network, synchronous in effect). It can be told what to answer, to drive retry paths.
 */
import type { FeishuBody, SendMeta, SendResult, Sink } from "./sink.ts";

export interface RecordedSend {
  body: FeishuBody;
  meta: SendMeta;
  /** When send was called, by the sink's clock (ms). */
  at: number;
  result: SendResult;
}

export interface RecordingSink extends Sink {
  /** Every send, in call order, successful or not. Bodies are copies taken at send time. */
  readonly sent: readonly RecordedSend[];
  /** Only the bodies whose send succeeded. */
  delivered(): FeishuBody[];
  clear(): void;
}

export interface RecordingSinkOptions {
  name?: string;
  clock?: () => number;
  /** The answer for the n-th send (0-based). Default: success. */
  respond?: (body: FeishuBody, meta: SendMeta, index: number) => SendResult;
}

const CLOSED: SendResult = { ok: false, code: null, msg: "sink is closed", retryable: true };

export function createRecordingSink(opts: RecordingSinkOptions = {}): RecordingSink {
  const clock = opts.clock ?? Date.now;
  const respond = opts.respond ?? ((): SendResult => ({ ok: true, code: 0 }));
  let sent: RecordedSend[] = [];
  let closed = false;
  return {
    name: opts.name ?? "recording",
    get sent() {
      return sent;
    },
    delivered: () => sent.filter((s) => s.result.ok).map((s) => s.body),
    clear() {
      sent = [];
    },
    async send(body, meta) {
      // Copy, so a caller reusing or mutating its objects cannot rewrite what was "sent".
      const copy = structuredClone(body);
      const result = closed ? CLOSED : respond(copy, { ...meta }, sent.length);
      sent.push({ body: copy, meta: { ...meta }, at: clock(), result });
      return result;
    },
    async close() {
      closed = true;
    },
  };
}
