/**
 * A local stand-in for the Feishu custom-bot webhook (shared/docs/feishu-webhook.md §7): a real
 * HTTP server on 127.0.0.1 that checks requests in the documented order and answers with the
 * documented status and body, records what it accepted, and injects link and service faults.
 *
 * Check order (doc §7; only "token before body" is observed, the rest is this double's choice):
 * token 19001 → size 19036 → JSON parse 9499 → signature 19021 → msg_type/shape 19002 →
 * keywords 19024 → @all 11235 → rate (11232, or 9499 at HTTP 400) → success.
 *
 * Choices where the doc is unconfirmed (§9):
 * - every business error is HTTP 200 except the 9499 rate answer (HTTP 400, as observed);
 * - a body that parses but is not a JSON object is 9499 "Bad Request" like unparseable JSON;
 * - `timestamp`/`sign` on a bot without a secret are ignored; with a secret, missing ones are 19021;
 *   the skew window is ±3600 s, future timestamps included;
 * - keywords: case-sensitive substring of any card text `content` (header included), link fields
 *   ignored; for text/post the text, titles and link texts;
 * - a refused @all answers 11235, the app API's code for the same refusal;
 * - only accepted messages use up rate quota; the 11232 minute marks use the UTC minute;
 * - no IP allowlist (19022) and one host: everything is on loopback.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { ANSWERS, gatewayHtml, type Answer } from "./answers.ts";
import { createFaultStore, type Fault } from "./faults.ts";
import { hasKeyword, mentionsAll, shapeError } from "./message-shape.ts";
import { createRateWindow, DEFAULT_RATE, type RateLimits, type RateWindow } from "./rate-window.ts";
import { verifySignature } from "./signature.ts";

export type { Fault } from "./faults.ts";
export type { RateLimits } from "./rate-window.ts";

/** How one bot (one webhook token) is set up in its group. */
export interface BotConfig {
  /** Signing secret; when set, every request must carry a valid `timestamp` and `sign`. */
  secret?: string;
  /** Custom keywords: a message must show at least one (up to 10 in Feishu). */
  keywords?: readonly string[];
  /** False when the group lets only owners and admins mention everyone. Default true. */
  allowAtAll?: boolean;
  /** Request body budget in bytes. Default 20,000 (doc §4.2). */
  maxBodyBytes?: number;
  /** Default 5/s and 100/min. */
  rate?: RateLimits;
  /** Which of the two observed rate-limit answers this bot gives. Default "11232". */
  rateLimitStyle?: "11232" | "9499";
}

export interface FeishuDoubleOptions {
  /** The service's clock in ms, for signature skew, rate windows and minute marks. Default Date.now. */
  clock?: () => number;
  /** Bots known from the start, by token. */
  bots?: Readonly<Record<string, BotConfig>>;
}

export interface AcceptedMessage {
  seq: number;
  token: string;
  /** Arrival time by the double's clock. */
  time: number;
  body: Record<string, unknown>;
  /** False when the fault "drop-after-accept" ate the answer: the sender saw a failure. */
  answered: boolean;
}

export type RequestOutcome = "accepted" | "rejected" | "dropped-after-accept" | "gateway-html" | "reset" | "no-answer";

export interface RequestRecord {
  seq: number;
  time: number;
  /** Null when the path is not a webhook path. */
  token: string | null;
  contentType: string | undefined;
  bytes: number;
  /** The parsed JSON body, when it parsed. */
  body: unknown;
  outcome: RequestOutcome;
  httpStatus?: number;
  code?: number;
  msg?: string;
  /** Why a check failed, where the answer alone does not say (e.g. signature "skew"). */
  detail?: string;
}

export interface FeishuDouble {
  /** `http://127.0.0.1:<port>`; stays the same across link-down and link-up. */
  readonly origin: string;
  url(token: string): string;
  /** Adds or replaces a bot; its rate window starts empty. */
  configure(token: string, config?: BotConfig): void;
  /** Injects a fault for one token, or for every token when `token` is absent. */
  fault(fault: Fault, token?: string): Promise<void>;
  /** Clears one token's faults, or every fault (and brings the link back up) when `token` is absent. */
  clearFaults(token?: string): Promise<void>;
  accepted(token?: string): AcceptedMessage[];
  requests(token?: string): RequestRecord[];
  /** Resolves once `count` messages were accepted (for the token, if given). */
  waitForAccepted(count: number, opts?: { token?: string; timeoutMs?: number }): Promise<AcceptedMessage[]>;
  /** Forgets records, faults and rate windows, and brings the link up; bots stay configured. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const HOOK_PATH = /^\/open-apis\/bot\/v2\/hook\/([^/]+)$/;
// Stop keeping bytes past this; the size check only needs the count.
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

interface Bot {
  config: BotConfig;
  window: RateWindow;
}

interface Verdict {
  answer: Answer;
  body?: Record<string, unknown>;
  detail?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function readBody(req: IncomingMessage): Promise<{ bytes: number; text: string }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= MAX_KEPT_BYTES) chunks.push(chunk);
  }
  return { bytes, text: Buffer.concat(chunks).toString("utf8") };
}

function inMarkedMinute(fault: Extract<Fault, { kind: "rate-limit-at-minutes" }>, nowMs: number): boolean {
  const at = new Date(nowMs);
  return fault.minutes.includes(at.getUTCMinutes()) && at.getUTCSeconds() < (fault.seconds ?? 60);
}

export async function startFeishuDouble(opts: FeishuDoubleOptions = {}): Promise<FeishuDouble> {
  const clock = opts.clock ?? Date.now;
  const bots = new Map<string, Bot>();
  const faults = createFaultStore();
  let accepted: AcceptedMessage[] = [];
  let records: RequestRecord[] = [];
  let seq = 0;
  const sockets = new Set<Socket>();
  // Requests held open by "never-answer" or "delay": reset() cuts them, idle keep-alive sockets stay.
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();

  const configure = (token: string, config: BotConfig = {}): void => {
    bots.set(token, { config, window: createRateWindow(config.rate ?? DEFAULT_RATE) });
  };
  for (const [token, config] of Object.entries(opts.bots ?? {})) configure(token, config);

  async function evaluate(token: string, bytes: number, text: string, time: number): Promise<Verdict> {
    const bot = bots.get(token);
    if (bot === undefined) return { answer: ANSWERS.tokenInvalid };
    const { config } = bot;
    if (bytes > (config.maxBodyBytes ?? 20_000)) return { answer: ANSWERS.tooLarge };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return { answer: ANSWERS.badRequest, detail: (err as Error).message };
    }
    if (!isObject(body)) return { answer: ANSWERS.badRequest, detail: "top level is not an object" };
    if (config.secret !== undefined) {
      const verdict = await verifySignature(body, config.secret, time);
      if (!verdict.ok) return { answer: ANSWERS.signFailed, body, detail: verdict.reason };
    }
    const shape = shapeError(body);
    if (shape !== null) return { answer: shape, body };
    if (config.keywords !== undefined && config.keywords.length > 0 && !hasKeyword(body, config.keywords)) {
      return { answer: ANSWERS.keywordsMissing, body };
    }
    if (config.allowAtAll === false && mentionsAll(body)) return { answer: ANSWERS.atAllRefused, body };
    // Rate check and record happen in one synchronous step, so concurrent requests cannot both
    // take the last slot.
    if (faults.take("rate-limit-at-minutes", token, (f) => inMarkedMinute(f, time)) !== undefined) {
      return { answer: ANSWERS.rateLimited11232, body, detail: "platform load at minute mark" };
    }
    if (!bot.window.allows(time)) {
      return { answer: config.rateLimitStyle === "9499" ? ANSWERS.rateLimited9499 : ANSWERS.rateLimited11232, body };
    }
    bot.window.record(time);
    return { answer: ANSWERS.success, body };
  }

  function sendJson(res: ServerResponse, answer: Answer): void {
    const json = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(json),
      Date: new Date(clock()).toUTCString(),
    });
    res.end(json);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = clock();
    const record: RequestRecord = {
      seq: ++seq,
      time,
      token: null,
      contentType: req.headers["content-type"],
      bytes: 0,
      body: undefined,
      outcome: "rejected",
    };
    res.on("close", () => held.delete(res));
    const finish = (patch: Partial<RequestRecord>): void => {
      records.push(Object.assign(record, patch));
    };
    const match = HOOK_PATH.exec(new URL(req.url ?? "/", "http://double").pathname);
    if (match === null || req.method !== "POST") {
      req.resume();
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("404 page not found");
      finish({ httpStatus: 404 });
      return;
    }
    const token = decodeURIComponent(match[1] ?? "");
    record.token = token;
    if (faults.take("link-down", token) !== undefined) {
      req.socket.destroy();
      finish({ outcome: "reset" });
      return;
    }
    if (faults.take("never-answer", token) !== undefined) {
      // Keep reading so the socket stays healthy; the answer simply never comes.
      req.resume();
      held.add(res);
      finish({ outcome: "no-answer" });
      return;
    }
    const { bytes, text } = await readBody(req);
    record.bytes = bytes;
    const gateway = faults.take("gateway-html", token);
    if (gateway !== undefined) {
      const status = gateway.status ?? 502;
      res.writeHead(status, { "Content-Type": "text/html" }).end(gatewayHtml(status));
      finish({ outcome: "gateway-html", httpStatus: status });
      return;
    }
    const verdict = await evaluate(token, bytes, text, time);
    const code = verdict.answer.body.code as number;
    const fields: Partial<RequestRecord> = { body: verdict.body, code, msg: verdict.answer.body.msg as string };
    if (verdict.detail !== undefined) fields.detail = verdict.detail;
    if (code === 0 && verdict.body !== undefined) {
      const dropped = faults.take("drop-after-accept", token) !== undefined;
      accepted.push({ seq: record.seq, token, time, body: verdict.body, answered: !dropped });
      for (const wake of waiters) wake();
      if (dropped) {
        req.socket.destroy();
        finish({ ...fields, outcome: "dropped-after-accept" });
        return;
      }
    }
    const delay = faults.take("delay", token);
    if (delay !== undefined) {
      held.add(res);
      await sleep(delay.ms);
      held.delete(res);
    }
    sendJson(res, verdict.answer);
    finish({ ...fields, outcome: code === 0 ? "accepted" : "rejected", httpStatus: verdict.answer.status });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug in the double must fail the test loudly, not look like a service answer.
      process.emitWarning(`feishu double: ${(err as Error).stack ?? String(err)}`);
      res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const stopListening = async (): Promise<void> => {
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    // Let clients in this process see their pooled sockets close before they send again, so the
    // next request meets the closed listener (ECONNREFUSED) rather than a half-dead socket.
    await new Promise((resolve) => setTimeout(resolve, 20));
  };

  await listen(0);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("feishu double: no TCP address after listen");
  const port = address.port;
  const origin = `http://127.0.0.1:${port}`;

  const filterByToken = <T extends { token: string | null }>(list: T[], token?: string): T[] =>
    token === undefined ? [...list] : list.filter((r) => r.token === token);

  const clearFaults = async (token?: string): Promise<void> => {
    faults.clear(token);
    // Reuse the same port so webhook URLs handed out earlier work again after the outage.
    if (token === undefined && !server.listening) await listen(port);
  };

  return {
    origin,
    url: (token) => `${origin}/open-apis/bot/v2/hook/${encodeURIComponent(token)}`,
    configure,
    async fault(fault, token) {
      faults.add(fault, token ?? null);
      if (fault.kind === "link-down" && token === undefined) await stopListening();
    },
    clearFaults,
    accepted: (token) => filterByToken(accepted, token),
    requests: (token) => filterByToken(records, token).sort((a, b) => a.seq - b.seq),
    waitForAccepted(count, { token, timeoutMs = 5000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const list = filterByToken(accepted, token);
          if (list.length < count) return;
          done();
          resolve(list);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`feishu double: ${filterByToken(accepted, token).length} of ${count} messages accepted after ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async reset() {
      accepted = [];
      records = [];
      for (const bot of bots.values()) bot.window.clear();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of held) res.socket?.destroy();
      held.clear();
      await clearFaults();
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await stopListening();
    },
  };
}
