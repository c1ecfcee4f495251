/**
 * The live set of handlers, fed by the handlers ConfigMap. A change loads each new or changed
 * bundle into the sandbox under a versioned name, then swaps the whole set in one assignment,
 * so an event never sees half a reload. A bundle that fails keeps the previous good version of
 * that handler. Every outcome is logged and recorded as an Event on the ConfigMap.
 */
import type { MatchSpec } from "../sdk/index.ts";
import { parseHandlerGrouping, type HandlerGrouping } from "./grouping/settings.ts";
import { bundleKey, parseHandlersConfigMap } from "./handlers-configmap.ts";
import type { Logger } from "./log.ts";
import type { LoadedHandler } from "./pipeline/pipeline.ts";

/** What the set needs from the sandbox. */
export interface BundleLoader {
  /** `grouping` is the handler's declaration as written (`{ wait?, interval?, repeat? }`), parsed here. */
  load(name: string, code: string): Promise<{ ok: true; match?: MatchSpec; grouping?: unknown } | { ok: false; error: string }>;
  unload(name: string): Promise<void>;
}

/** Where reload outcomes are reported (a Kubernetes Event recorder in the cluster). */
export type ReloadReporter = (type: "Normal" | "Warning", reason: "HandlersReloaded" | "HandlerRejected", message: string, configMap: Record<string, unknown>) => Promise<void>;

interface Live {
  /** Handler name as written (`default`). */
  name: string;
  sha256: string;
  /** Versioned name in the sandbox (`default@1a2b3c4d`). */
  sandboxName: string;
  match?: MatchSpec;
  grouping?: HandlerGrouping;
}

type Loaded = { ok: true; match?: MatchSpec; grouping?: HandlerGrouping } | { ok: false; error: string };

export class HandlerSet {
  /** Reloads that changed something, for the metrics. */
  reloads = 0;
  rejected = 0;
  #live: Live[] = [];
  #view: LoadedHandler[] = [];
  #applied = false;
  #queue: Promise<void> = Promise.resolve();
  readonly #loader: BundleLoader;
  readonly #logger: Logger;
  readonly #report: ReloadReporter;

  constructor(loader: BundleLoader, logger: Logger, report: ReloadReporter) {
    this.#loader = loader;
    this.#logger = logger.child({ component: "handlers" });
    this.#report = report;
  }

  /** The current handlers, as the pipeline calls them (sandbox names). */
  current = (): readonly LoadedHandler[] => this.#view;

  /** Handler names as written, with the sandbox name each runs under. */
  describe(): Array<{ name: string; sandboxName: string; sha256: string }> {
    return this.#live.map(({ name, sandboxName, sha256 }) => ({ name, sandboxName, sha256 }));
  }

  /** True once a ConfigMap has been applied and at least one handler runs. */
  get ready(): boolean {
    return this.#applied && this.#live.length > 0;
  }

  /** Apply a ConfigMap as seen by the watch. Changes are applied one at a time, in order. */
  apply(configMap: Record<string, unknown>): Promise<void> {
    this.#queue = this.#queue.then(() => this.#apply(configMap));
    return this.#queue;
  }

  /**
   * Loads a bundle and reads its grouping timers. Timers the grouper cannot use refuse the bundle
   * like a load error: running the handler on the dispatcher's timers instead would silently
   * ignore what its author wrote.
   */
  async #load(sandboxName: string, code: string): Promise<Loaded> {
    const result = await this.#loader.load(sandboxName, code);
    if (!result.ok) return result;
    const { grouping, problems } = parseHandlerGrouping(result.grouping);
    if (problems.length === 0) {
      return { ok: true, ...(result.match ? { match: result.match } : {}), ...(Object.keys(grouping).length ? { grouping } : {}) };
    }
    // The sandbox took the bundle; it must not stay loaded beside the version that is kept.
    await this.#loader.unload(sandboxName);
    return { ok: false, error: problems.join("; ") };
  }

  async #apply(configMap: Record<string, unknown>): Promise<void> {
    const parsed = parseHandlersConfigMap(configMap);
    const previous = new Map(this.#live.map((l) => [l.name, l]));
    const next: Live[] = [];
    const loaded: string[] = [];
    const rejected: string[] = [...parsed.problems];
    for (const bundle of parsed.bundles) {
      const old = previous.get(bundle.name);
      if (old && old.sha256 === bundle.sha256) {
        next.push(old);
        continue;
      }
      const sandboxName = `${bundle.name}@${bundle.sha256.slice(0, 12)}`;
      const result = await this.#load(sandboxName, bundle.code);
      if (result.ok) {
        next.push({ name: bundle.name, sha256: bundle.sha256, sandboxName, ...(result.match ? { match: result.match } : {}), ...(result.grouping ? { grouping: result.grouping } : {}) });
        loaded.push(`${bundle.name} (${bundle.sha256.slice(0, 12)})`);
      } else {
        rejected.push(`handler ${bundle.name}: ${result.error}${old ? " (keeping the previous version)" : ""}`);
        if (old) next.push(old);
      }
    }
    // A bundle still present but refused by the ConfigMap checks (e.g. a hash mismatch) keeps its previous version too.
    const data = (configMap.data ?? {}) as Record<string, unknown>;
    for (const old of previous.values()) {
      if (!next.some((l) => l.name === old.name) && data[bundleKey(old.name)] !== undefined) next.push(old);
    }
    const removed = [...previous.values()].filter((l) => !next.includes(l));
    this.#live = next.sort((a, b) => a.name.localeCompare(b.name));
    this.#view = this.#live.map((l) => ({ name: l.sandboxName, ...(l.match ? { match: l.match } : {}), ...(l.grouping ? { grouping: l.grouping } : {}) }));
    this.#applied = true;
    for (const old of previous.values()) if (!this.#live.includes(old)) await this.#loader.unload(old.sandboxName);

    if (loaded.length || removed.length) {
      this.reloads++;
      const message = `handlers live: ${this.#live.map((l) => l.name).join(", ") || "none"}; loaded ${loaded.join(", ") || "nothing new"}${removed.length ? `; removed ${removed.map((r) => r.name).join(", ")}` : ""}`;
      this.#logger.info({ handlers: this.describe() }, message);
      await this.#report("Normal", "HandlersReloaded", message, configMap);
    }
    for (const problem of rejected) {
      this.rejected++;
      this.#logger.error({ problem }, `handler rejected: ${problem}`);
      await this.#report("Warning", "HandlerRejected", problem, configMap);
    }
  }
}
