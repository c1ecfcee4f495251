/**
 * Minimal loopback stand-ins for the DingTalk and WeCom group robots and a generic JSON webhook
 * (shared/docs/feishu-webhook.md §8): a real HTTP server on 127.0.0.1 that checks what each
 * service checks (DingTalk: token, signature in the query within an hour, markdown shape, 20/min;
 * WeCom: key, markdown ≤ 4096 bytes, 20/min; webhook: any JSON, optional HMAC headers), records
 * what it accepted, and can be told to refuse, fail or drop the link.
 *
 * Answers: DingTalk `{errcode, errmsg}` with 310000 (sign/timestamp/keywords), 300001 (token),
 * 130101 (over 20/min); WeCom 93000 (key), 40058 (content too long), 45009 (over 20/min); the
 * webhook answers 204, or whatever status a fault says.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { serveOnLoopback } from "./loopback-server.ts";

export type RobotKind = "dingtalk" | "wecom" | "webhook";

export interface RobotDoubleOptions {
  kind: RobotKind;
  /** The token (DingTalk access_token, WeCom key) or webhook path segment that is accepted. */
  token: string;
  /** DingTalk signing secret, or the webhook's HMAC key. */
  secret?: string;
  /** DingTalk only: at least one must appear in the markdown text. */
  keywords?: readonly string[];
  clock?: () => number;
  /** Messages per minute before the rate answer. Default 20 (robots), unlimited for the webhook. */
  perMinute?: number;
}

export type RobotFault =
  | { kind: "link-down" }
  | { kind: "status"; status: number; body?: string; times?: number }
  | { kind: "answer"; json: Record<string, unknown>; times?: number };

export interface RobotRequest {
  time: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: unknown;
  bytes: number;
  accepted: boolean;
  answer: unknown;
}

export interface RobotDouble {
  readonly origin: string;
  /** The webhook URL for `token`: /robot/send?access_token=, /cgi-bin/webhook/send?key=, or /hooks/<token>. */
  url(token?: string): string;
  requests(): RobotRequest[];
  accepted(): RobotRequest[];
  fault(f: RobotFault): Promise<void>;
  clearFaults(): Promise<void>;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
};

export async function startRobotDouble(opts: RobotDoubleOptions): Promise<RobotDouble> {
  const clock = opts.clock ?? Date.now;
  const perMinute = opts.perMinute ?? (opts.kind === "webhook" ? Number.POSITIVE_INFINITY : 20);
  const records: RobotRequest[] = [];
  let faults: RobotFault[] = [];

  const takeFault = (): RobotFault | undefined => {
    const f = faults.find((x): x is Exclude<RobotFault, { kind: "link-down" }> => x.kind !== "link-down");
    if (f === undefined) return undefined;
    if (f.times !== undefined && --f.times <= 0) faults = faults.filter((x) => x !== f);
    return f;
  };
  const acceptedInLastMinute = (now: number): number => records.filter((r) => r.accepted && r.time > now - 60_000).length;

  function verdict(url: URL, headers: IncomingMessage["headers"], text: string, body: unknown, now: number): { status: number; answer: unknown } {
    const ok = opts.kind === "webhook" ? { status: 204, answer: null } : { status: 200, answer: { errcode: 0, errmsg: "ok" } };
    const message = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    if (opts.kind === "dingtalk") {
      if (url.pathname !== "/robot/send" || url.searchParams.get("access_token") !== opts.token) return { status: 200, answer: { errcode: 300001, errmsg: "token is not exist" } };
      if (opts.secret !== undefined) {
        const ts = Number(url.searchParams.get("timestamp"));
        if (!Number.isFinite(ts) || Math.abs(now - ts) > 3_600_000) return { status: 200, answer: { errcode: 310000, errmsg: "invalid timestamp" } };
        const expected = createHmac("sha256", opts.secret).update(`${ts}\n${opts.secret}`).digest("base64");
        if (url.searchParams.get("sign") !== expected) return { status: 200, answer: { errcode: 310000, errmsg: "sign not match" } };
      }
      const md = message.markdown as Record<string, unknown> | undefined;
      if (message.msgtype !== "markdown" || typeof md?.title !== "string" || typeof md.text !== "string") return { status: 200, answer: { errcode: 40035, errmsg: "缺少参数 json" } };
      if (Buffer.byteLength(text) > 20_000) return { status: 200, answer: { errcode: 460101, errmsg: "message too long, exceed 20000 bytes" } };
      if (opts.keywords?.length && !opts.keywords.some((k) => (md.text as string).includes(k) || (md.title as string).includes(k))) {
        return { status: 200, answer: { errcode: 310000, errmsg: "keywords not in content" } };
      }
      if (acceptedInLastMinute(now) >= perMinute) return { status: 200, answer: { errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" } };
      return ok;
    }
    if (opts.kind === "wecom") {
      if (url.pathname !== "/cgi-bin/webhook/send" || url.searchParams.get("key") !== opts.token) return { status: 200, answer: { errcode: 93000, errmsg: "invalid webhook url" } };
      const md = message.markdown as Record<string, unknown> | undefined;
      if (message.msgtype !== "markdown" || typeof md?.content !== "string") return { status: 200, answer: { errcode: 40008, errmsg: "invalid message type" } };
      if (Buffer.byteLength(md.content) > 4096) return { status: 200, answer: { errcode: 40058, errmsg: "markdown.content exceed max length 4096" } };
      if (acceptedInLastMinute(now) >= perMinute) return { status: 200, answer: { errcode: 45009, errmsg: "api freq out of limit" } };
      return ok;
    }
    if (url.pathname !== `/hooks/${opts.token}`) return { status: 404, answer: { error: "not found" } };
    if (opts.secret !== undefined) {
      const ts = headers["x-edge-alarm-timestamp"];
      const expected = `sha256=${createHmac("sha256", opts.secret).update(`${String(ts)}.${text}`).digest("hex")}`;
      if (headers["x-edge-alarm-signature"] !== expected) return { status: 401, answer: { error: "bad signature" } };
    }
    if (acceptedInLastMinute(now) >= perMinute) return { status: 429, answer: { error: "slow down" } };
    return ok;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://double");
    const now = clock();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined; // answered as a shape error below
    }
    const record: RobotRequest = {
      time: now,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { "content-type": req.headers["content-type"], "x-edge-alarm-signature": req.headers["x-edge-alarm-signature"] as string | undefined },
      body,
      bytes: chunks.reduce((n, c) => n + c.length, 0),
      accepted: false,
      answer: undefined,
    };
    records.push(record);
    const fault = takeFault();
    if (fault?.kind === "status") {
      record.answer = fault.body ?? "";
      res.writeHead(fault.status, { "content-type": "text/html" }).end(fault.body ?? "");
      return;
    }
    if (fault?.kind === "answer") {
      record.answer = fault.json;
      json(res, 200, fault.json);
      return;
    }
    const v = verdict(url, req.headers, text, body, now);
    record.answer = v.answer;
    record.accepted = v.status < 300 && (v.answer === null || (v.answer as { errcode?: number }).errcode === 0);
    if (v.answer === null) res.writeHead(v.status).end();
    else json(res, v.status, v.answer);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      process.emitWarning(`robot double: ${(err as Error).stack ?? String(err)}`);
      res.destroy();
    });
  });
  const loopback = await serveOnLoopback(server);
  const { origin } = loopback;

  return {
    origin,
    url(token = opts.token) {
      if (opts.kind === "dingtalk") return `${origin}/robot/send?access_token=${encodeURIComponent(token)}`;
      if (opts.kind === "wecom") return `${origin}/cgi-bin/webhook/send?key=${encodeURIComponent(token)}`;
      return `${origin}/hooks/${encodeURIComponent(token)}`;
    },
    requests: () => [...records],
    accepted: () => records.filter((r) => r.accepted),
    async fault(f) {
      faults.push(f);
      if (f.kind === "link-down") await loopback.down();
    },
    async clearFaults() {
      faults = [];
      await loopback.up();
    },
    close: () => loopback.down(),
  };
}
