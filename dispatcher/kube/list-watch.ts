/**
 * List, then watch a collection (core/v1 Events, the handlers ConfigMap) from the list's
 * resourceVersion, and keep doing so whatever happens. client-node's informer stops for good on any error but 410 and never asks for
 * bookmarks (see docs); this loop instead:
 * - asks for bookmarks, so a quiet watch still advances its resourceVersion;
 * - relists on 410 Gone / "too old resource version" (the pipeline's occurrence memory keeps a
 *   relist from re-alarming what was already handled);
 * - reconnects with capped, jittered exponential backoff on any other failure;
 * - treats a stream that says nothing for `stallMs` as dead (half-open TCP) and reconnects.
 *
 * Notifications are handed to `onEvent` one at a time and the stream is read no further until
 * it returns: the response body then fills up to its high-water mark and undici stops reading
 * the socket, so a storm waits in the API server and the kernel's socket buffer, not here as
 * parsed objects. The stall clock runs only while we wait for data, not while `onEvent` works.
 */
import type { Logger } from "../log.ts";
import { KubeApiError, readJson, type KubeClient } from "./client.ts";

/** The collection paths for core/v1 Events: cluster-wide, or one per watched namespace. */
export function eventPaths(namespaces: readonly string[]): string[] {
  return namespaces.length ? namespaces.map((ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/events`) : ["/api/v1/events"];
}

export interface WatchNotification {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: Record<string, unknown>;
  /** True for the items of an initial list or a relist. */
  fromList: boolean;
}

export interface ListWatchOptions {
  client: KubeClient;
  /** What is watched, for log lines, e.g. "events". */
  what: string;
  /** Collection paths, each listed and watched on its own, e.g. eventPaths(namespaces). */
  paths: readonly string[];
  fieldSelector?: string;
  /** Watch from this resourceVersion first instead of listing (too old → 410 → relist as usual). */
  resumeFrom?: string;
  logger: Logger;
  onEvent: (n: WatchNotification) => Promise<void>;
  /** No byte for this long means the stream is dead. Bookmarks arrive about once a minute. */
  stallMs?: number;
  /** Server-side watch timeout; the watch is then resumed from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Items per list page; each page is handed on before the next is fetched. */
  listPageSize?: number;
}

class Gone extends Error {}
class Stalled extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

interface Scope {
  path: string;
  watching: boolean;
}

export class ListWatch {
  /** Reconnects after a failure, for the metrics. */
  restarts = 0;
  relists = 0;
  readonly #opts: Required<Omit<ListWatchOptions, "fieldSelector" | "resumeFrom">> & { fieldSelector?: string; resumeFrom?: string };
  readonly #stop = new AbortController();
  readonly #scopes: Scope[];
  #loops: Promise<void>[] = [];
  #current = new Set<AbortController>();

  constructor(opts: ListWatchOptions) {
    this.#opts = { stallMs: 150_000, watchTimeoutSeconds: 290, backoffInitialMs: 500, backoffMaxMs: 30_000, listPageSize: 500, ...opts };
    this.#scopes = opts.paths.map((path) => ({ path, watching: false }));
  }

  /** True while every watched scope has an open watch. */
  get established(): boolean {
    return this.#scopes.every((s) => s.watching);
  }

  start(): void {
    this.#loops = this.#scopes.map((s) => this.#run(s));
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    for (const c of this.#current) c.abort();
    await Promise.all(this.#loops);
  }

  #query(params: Record<string, string>): string {
    const q = new URLSearchParams(params);
    if (this.#opts.fieldSelector) q.set("fieldSelector", this.#opts.fieldSelector);
    return q.toString();
  }

  async #run(scope: Scope): Promise<void> {
    const log = this.#opts.logger.child({ component: "list-watch", what: this.#opts.what, path: scope.path });
    let rv: string | undefined = this.#opts.resumeFrom;
    let delay = this.#opts.backoffInitialMs;
    while (!this.#stop.signal.aborted) {
      try {
        if (rv === undefined) {
          rv = await this.#list(scope);
          log.info({ resourceVersion: rv }, `listed ${this.#opts.what}`);
        }
        rv = await this.#watch(scope, rv, () => { delay = this.#opts.backoffInitialMs; }, log);
      } catch (err) {
        scope.watching = false;
        if (this.#stop.signal.aborted) break;
        if (err instanceof Gone) {
          this.relists++;
          log.warn({ resourceVersion: rv }, "resourceVersion too old (410 Gone); relisting");
          rv = undefined;
          continue;
        }
        this.restarts++;
        if (err instanceof Stalled) this.#opts.client.resetConnections();
        // Full jitter keeps a fleet of dispatchers from reconnecting in lockstep after an apiserver restart.
        const wait = Math.round(delay / 2 + Math.random() * (delay / 2));
        delay = Math.min(delay * 2, this.#opts.backoffMaxMs);
        log.warn({ err: (err as Error).message, retryInMs: wait }, `${this.#opts.what} watch failed: ${(err as Error).message}; retrying`);
        await sleep(wait, this.#stop.signal);
      }
    }
    scope.watching = false;
  }

  /**
   * List page by page, handing each page on before fetching the next: a relist after a storm
   * (tens of thousands of Events) then holds one page of parsed objects, not all of them.
   */
  async #list(scope: Scope): Promise<string> {
    let cont = "";
    let rv = "";
    const limit = String(this.#opts.listPageSize);
    for (;;) {
      const q = this.#query(cont ? { limit, continue: cont } : { limit });
      const res = await this.#opts.client.send("GET", `${scope.path}?${q}`, { signal: this.#stop.signal });
      if (res.status === 410 && cont) {
        // The continue token expired mid-list: start the list over. Items handed on already come
        // again; the pipeline's occurrence memory tells them from new ones, as after any relist.
        await res.body.dump();
        cont = "";
        continue;
      }
      const page = await readJson<{ metadata?: { resourceVersion?: string; continue?: string }; items?: Record<string, unknown>[] }>(res, `list ${this.#opts.what}`);
      rv = page.metadata?.resourceVersion ?? "";
      cont = page.metadata?.continue ?? "";
      const items = page.items ?? [];
      page.items = undefined;
      // Each item can be collected once handled (shift), not only when the page is done.
      for (let object = items.shift(); object !== undefined; object = items.shift()) await this.#opts.onEvent({ type: "ADDED", object, fromList: true });
      if (!cont) break;
    }
    return rv;
  }

  async #watch(scope: Scope, rv: string, onOpen: () => void, log: Logger): Promise<string> {
    const q = this.#query({
      watch: "1",
      resourceVersion: rv,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(this.#opts.watchTimeoutSeconds),
    });
    const abort = new AbortController();
    this.#current.add(abort);
    let stallTimer: NodeJS.Timeout | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => abort.abort(new Stalled(`no data for ${this.#opts.stallMs} ms`)), this.#opts.stallMs);
    };
    try {
      armStall();
      const res = await this.#opts.client.send("GET", `${scope.path}?${q}`, { signal: abort.signal, dedicated: true });
      if (res.status === 410) {
        await res.body.dump();
        throw new Gone();
      }
      if (res.status !== 200) await readJson(res, `watch ${this.#opts.what}`); // throws with the server's message
      scope.watching = true;
      onOpen();
      log.debug({ resourceVersion: rv }, `watching ${this.#opts.what}`);
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of res.body) {
        // A slow pipeline (a storm, handlers near their deadline) is not a silent link.
        clearTimeout(stallTimer);
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) rv = await this.#notification(line, rv, log);
        }
        armStall();
      }
      // A normal close (server timeout): resume from where we are.
      return rv;
    } catch (err) {
      if (abort.signal.aborted && abort.signal.reason instanceof Stalled) throw abort.signal.reason;
      throw err;
    } finally {
      clearTimeout(stallTimer);
      this.#current.delete(abort);
    }
  }

  async #notification(line: string, rv: string, log: Logger): Promise<string> {
    let n: { type?: string; object?: Record<string, unknown> };
    try {
      n = JSON.parse(line) as typeof n;
    } catch {
      log.warn({ line: line.slice(0, 200) }, "malformed watch line skipped");
      return rv;
    }
    const object = n.object ?? {};
    const meta = (object.metadata ?? {}) as { resourceVersion?: string };
    switch (n.type) {
      case "ADDED":
      case "MODIFIED":
      case "DELETED":
        await this.#opts.onEvent({ type: n.type, object, fromList: false });
        return meta.resourceVersion ?? rv;
      case "BOOKMARK":
        return meta.resourceVersion ?? rv;
      case "ERROR": {
        const status = object as { code?: number; reason?: string; message?: string };
        if (status.code === 410 || status.reason === "Expired" || status.reason === "Gone") throw new Gone();
        throw new KubeApiError(status.code ?? 0, status.reason ?? "", `watch error: ${status.message ?? line.slice(0, 200)}`);
      }
      default:
        log.warn({ type: n.type }, "unknown watch notification type skipped");
        return rv;
    }
  }
}
