/**
 * The one interface every alarm destination implements. The pipeline and the outbox only see
 * this; which sink a channel uses is decided where the dispatcher is composed.
 */

/**
 * A chat message as a plain object, ready for JSON: `{msg_type: "interactive", card}` for cards,
 * `{msg_type: "text", content}` and the like otherwise. The pipeline's narrower card body is one.
 */
export interface FeishuBody {
  readonly msg_type: string;
  readonly card?: object;
  readonly content?: object;
}

/** What a message is: one alarm, several alarms in one digest, or a note from edge-alarm itself. */
export type MessageKind = "alarm" | "digest" | "notice" | "self-alarm";

/**
 * Where a message comes from, for logs and dead-letter records. Chat sinks never send it; the
 * generic JSON webhook sends it beside the card so a receiver can route and deduplicate.
 */
export interface SendMeta {
  fingerprint?: string;
  handler?: string;
  eventUid?: string;
  channel?: string;
  kind?: MessageKind;
  /** Every alarm fingerprint a digest carries. */
  fingerprints?: readonly string[];
  /** When the (first) alarm happened, ISO 8601. */
  at?: string;
}

/** A service's rate limit for one webhook. */
export interface RateLimits {
  perSecond?: number;
  perMinute: number;
}

export type SendResult =
  | { ok: true; code: 0 }
  | {
      ok: false;
      /** The service's code, or null when there was none (network error, timeout, non-JSON answer). */
      code: number | null;
      msg: string;
      /** True when sending the same message again later can succeed. */
      retryable: boolean;
      httpStatus?: number;
      /**
       * True when the request may have reached the service although no success came back (read
       * timeout, connection lost after sending): a retry can post a duplicate.
       */
      maybeDelivered?: boolean;
      /** The service asked for this much quiet before the next message (DingTalk's throttle, Retry-After). */
      retryAfterMs?: number;
    };

export type SendFailure = Extract<SendResult, { ok: false }>;

export interface Sink {
  readonly name: string;
  /** The documented limit for this one webhook; the outbox keeps under it. Default Feishu's 5/s and 100/min. */
  readonly rateLimits?: RateLimits;
  /**
   * Identifies the webhook without revealing it (host and a short hash): channels whose sinks
   * share a key share one rate budget. Default: the sink's name.
   */
  readonly rateKey?: string;
  /**
   * Whether the message fits the service's size limit as it is (without truncation), so the
   * outbox can size digests. Default: the Feishu body budget.
   */
  fits?(body: FeishuBody): boolean;
  /** Sends one message. Never rejects: every outcome, transport errors included, is a SendResult. */
  send(body: FeishuBody, meta: SendMeta): Promise<SendResult>;
  /** Releases connections. Sends after close fail with a retryable result. */
  close(): Promise<void>;
}
