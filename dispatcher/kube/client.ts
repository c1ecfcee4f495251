/**
 * A small Kubernetes API client on undici: just what the dispatcher needs (JSON requests and
 * watch streams). In the cluster it reads the ServiceAccount files itself, because importing
 * @kubernetes/client-node costs ~60 MiB of anonymous memory (its KubeConfig pulls in every
 * generated API); out of the cluster it borrows client-node's kubeconfig handling, which covers
 * every auth method, and pays that cost only there.
 */
import { readFileSync } from "node:fs";
import { Agent, Client, request, type Dispatcher } from "../undici.ts";

export interface KubeResponse {
  status: number;
  body: Dispatcher.ResponseData["body"];
}

export interface SendOptions {
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * Use a connection of its own, closed when the response ends or the request is aborted. Watches
   * need this: an aborted request leaves its socket in undici's pool, and when that socket is
   * half-open (a silent link drop) the next request would queue behind it forever.
   */
  dedicated?: boolean;
}

export interface KubeClient {
  readonly server: string;
  /** Issue a request; the caller reads or discards the body. */
  send(method: string, path: string, opts?: SendOptions): Promise<KubeResponse>;
  /** Drop every pooled connection (after a half-open link was detected, the others are likely dead too). */
  resetConnections(): void;
  close(): Promise<void>;
}

/** An API error with the status and the server's message, never the token. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** Read a JSON response, turning non-2xx Status objects into KubeApiError. */
export async function readJson<T>(res: KubeResponse, what: string): Promise<T> {
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KubeApiError(res.status, "", `${what}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (res.status >= 300) {
    const s = parsed as { reason?: string; message?: string };
    throw new KubeApiError(res.status, s.reason ?? "", `${what}: HTTP ${res.status} ${s.reason ?? ""}: ${s.message ?? text.slice(0, 200)}`);
  }
  return parsed as T;
}

interface Auth {
  server: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecure?: boolean;
  /** Called per request so rotated tokens (bound ServiceAccount tokens, exec plugins) are picked up. */
  headers: () => Promise<Record<string, string>>;
}

function createClient(auth: Auth): KubeClient {
  const connect = { ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: !auth.insecure };
  // HTTP/1.1 only: one connection per watch is the design (a stalled watch is cut on its own),
  // and the bundle then never loads node:http2 (build/bundle-dispatcher.ts).
  const newAgent = () => new Agent({ connect, keepAliveTimeout: 30_000, allowH2: false });
  let agent = newAgent();
  return {
    server: auth.server,
    async send(method, path, opts = {}) {
      const headers: Record<string, string> = { accept: "application/json", ...(await auth.headers()) };
      if (opts.body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
      const own = opts.dedicated ? new Client(auth.server, { connect, allowH2: false }) : undefined;
      // Destroying a connection that already failed may reject again; there is nothing left to clean up.
      const release = () => void own?.destroy().catch(() => undefined);
      opts.signal?.addEventListener("abort", release, { once: true });
      try {
        const res = await request(auth.server + path, {
          method: method as Dispatcher.HttpMethod,
          headers,
          body: opts.body === undefined ? null : JSON.stringify(opts.body),
          dispatcher: own ?? agent,
          signal: opts.signal ?? null,
          headersTimeout: opts.timeoutMs ?? 30_000,
          // Watches are long; their liveness is checked by the watcher's own stall timer.
          bodyTimeout: 0,
        });
        res.body.once("close", release);
        return { status: res.statusCode, body: res.body };
      } catch (err) {
        release();
        throw err;
      }
    },
    resetConnections() {
      const old = agent;
      agent = newAgent();
      // In-flight requests on the old pool fail and are retried by their callers.
      old.destroy().catch(() => undefined);
    },
    close: () => agent.close(),
  };
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The in-cluster client: KUBERNETES_SERVICE_HOST/PORT and the mounted ServiceAccount token and CA. */
export function inClusterClient(saDir = SA_DIR, env = process.env): KubeClient {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new Error("not running in a cluster: KUBERNETES_SERVICE_HOST is unset (use --kubeconfig or KUBECONFIG)");
  let token = "";
  let readAt = 0;
  return createClient({
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${saDir}/ca.crt`),
    headers: async () => {
      // Bound tokens rotate on disk; re-read at most once a minute.
      if (Date.now() - readAt > 60_000) {
        token = readFileSync(`${saDir}/token`, "utf8").trim();
        readAt = Date.now();
      }
      return { authorization: `Bearer ${token}` };
    },
  });
}

/** A client from a kubeconfig file (its current context), using client-node for the auth methods. */
export async function kubeconfigClient(file: string): Promise<KubeClient> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${file} has no current cluster`);
  const probe: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer } = {};
  await kc.applyToHTTPSOptions(probe as Parameters<typeof kc.applyToHTTPSOptions>[0]);
  return createClient({
    server: cluster.server.replace(/\/$/, ""),
    ...(probe.ca ? { ca: probe.ca } : {}),
    ...(probe.cert ? { cert: probe.cert } : {}),
    ...(probe.key ? { key: probe.key } : {}),
    insecure: cluster.skipTLSVerify === true,
    headers: async (): Promise<Record<string, string>> => {
      const opts: { headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(opts as Parameters<typeof kc.applyToHTTPSOptions>[0]);
      const auth = opts.headers?.Authorization ?? opts.headers?.authorization;
      const headers: Record<string, string> = {};
      if (auth) headers.authorization = auth;
      return headers;
    },
  });
}
