/**
 * @module The card inbox of `edge-alarm dev`: an in-memory list of what happened (cards, handler
 * errors, builds) served on 127.0.0.1 as one page that follows along over server-sent events.
 * The page script is bundled from inbox/ once at start. A strict Content-Security-Policy allows
 * only this server's own script and style, as a second line behind the page's text-only drawing.
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import type { KubeEvent } from "../../sdk/index.ts";
import { UserError } from "../errors.ts";

const INBOX_DIR = fileURLToPath(new URL("./inbox/", import.meta.url));

export interface GuestLogLine {
  level: string;
  message: string;
}

/** Whether a card reached Feishu, when dev sends to a real bot. */
export interface DeliveryNote {
  ok: boolean;
  code: number | null;
  summary: string;
}

export type EntryData =
  | {
      kind: "card";
      handler: string;
      channel: string;
      card: unknown;
      bytes: number;
      truncated: boolean;
      event: KubeEvent | null;
      logs: GuestLogLine[];
      delivery?: DeliveryNote;
    }
  | { kind: "error"; handler: string; failure: string; message: string; stack?: string; event: KubeEvent | null; logs: GuestLogLine[] }
  | { kind: "build"; ok: true; handlers: string[]; ms: number }
  | { kind: "build"; ok: false; message: string }
  | { kind: "info"; message: string };

export type InboxEntry = EntryData & { id: number; at: string };

export interface InboxStatus {
  source: string;
  events: number;
  alarms: number;
  errors: number;
  handlers: string[];
}

export interface InboxOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Entries kept for pages that connect later; older ones are dropped. */
  keep?: number;
}

export interface Inbox {
  readonly url: string;
  readonly port: number;
  add(entry: EntryData): InboxEntry;
  setStatus(status: Partial<InboxStatus>): void;
  entries(): readonly InboxEntry[];
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

async function bundleClient(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [`${INBOX_DIR}client.js`],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    write: false,
    logLevel: "silent",
    charset: "utf8",
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error("esbuild produced no inbox script");
  return out.text;
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Start the inbox server. Rejects when the port is taken, with the port in the message. */
export async function startInbox(opts: InboxOptions): Promise<Inbox> {
  const host = opts.host ?? "127.0.0.1";
  const keep = opts.keep ?? 300;
  const [html, css, script] = await Promise.all([readFile(`${INBOX_DIR}index.html`, "utf8"), readFile(`${INBOX_DIR}inbox.css`, "utf8"), bundleClient()]);
  const list: InboxEntry[] = [];
  const streams = new Set<ServerResponse>();
  let status: InboxStatus = { source: "starting", events: 0, alarms: 0, errors: 0, handlers: [] };
  let nextId = 1;

  const send = (res: ServerResponse, type: string, body: string) => {
    res.writeHead(200, { "content-type": type, ...SECURITY_HEADERS });
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://inbox").pathname;
    if (req.method !== "GET") {
      res.writeHead(405, SECURITY_HEADERS).end();
      return;
    }
    switch (path) {
      case "/":
        return send(res, "text/html; charset=utf-8", html);
      case "/inbox.css":
        return send(res, "text/css; charset=utf-8", css);
      case "/inbox.js":
        return send(res, "text/javascript; charset=utf-8", script);
      case "/api/entries":
        return send(res, "application/json", JSON.stringify(list));
      case "/api/status":
        return send(res, "application/json", JSON.stringify(status));
      case "/favicon.ico":
        res.writeHead(204, SECURITY_HEADERS).end();
        return;
      case "/api/stream": {
        res.writeHead(200, { "content-type": "text/event-stream", connection: "keep-alive", ...SECURITY_HEADERS });
        sse(res, "status", status);
        for (const entry of list) sse(res, "entry", entry);
        streams.add(res);
        req.on("close", () => streams.delete(res));
        return;
      }
      default:
        res.writeHead(404, { "content-type": "text/plain", ...SECURITY_HEADERS }).end("not found\n");
    }
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new UserError(`port ${opts.port} on ${host} is in use (another edge-alarm dev?); pick another with --port`) : err),
    );
    server.listen(opts.port, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    add(data) {
      const entry = { ...data, id: nextId++, at: new Date().toISOString() } as InboxEntry;
      list.push(entry);
      if (list.length > keep) list.splice(0, list.length - keep);
      for (const res of streams) sse(res, "entry", entry);
      return entry;
    },
    setStatus(partial) {
      status = { ...status, ...partial };
      for (const res of streams) sse(res, "status", status);
    },
    entries: () => list,
    async close() {
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
