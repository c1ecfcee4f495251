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

/** Where a message comes from, for logs and dead-letter records; never sent. */
export interface SendMeta {
  fingerprint?: string;
  handler?: string;
  eventUid?: string;
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
    };

export type SendFailure = Extract<SendResult, { ok: false }>;

export interface Sink {
  readonly name: string;
  /** Sends one message. Never rejects: every outcome, transport errors included, is a SendResult. */
  send(body: FeishuBody, meta: SendMeta): Promise<SendResult>;
  /** Releases connections. Sends after close fail with a retryable result. */
  close(): Promise<void>;
}
