/**
 * @module Cards about edge-alarm itself, so its silence is never ambiguous:
 * - `started`: "edge-alarm started on <cluster>" with version and handlers, once per start;
 * - `online`: "back online after N min", after the dispatcher itself was down (read from a
 *   timestamp in the state dir). A webhook outage is the outbox's to report: it knows when a
 *   channel comes back and sends its own "channel back online" notice;
 * - `handler`: "handler X rejected" (a bundle refused at load) and "handler X failing" (many
 *   failed calls in a window);
 * - `heartbeat`: an optional daily card at a set local time with the last 24 hours' counts.
 *
 * Cards are built with the sdk's card builders and leave as ordinary deliveries, so they share
 * the outbox's spool, rate limits and (with HA) the leader gate.
 */
import { card, div, fields, hash, md, note, type FeishuCard } from "../sdk/index.ts";
import type { Logger } from "./log.ts";
import { buildFeishuBody } from "./pipeline/feishu-body.ts";
import type { Delivery } from "./pipeline/pipeline.ts";
import { readIfExists, writeFileAtomic } from "./state/atomic-file.ts";
import { formatTime } from "./time-format.ts";

export const SELF_ALARM_KINDS = ["started", "online", "handler", "heartbeat"] as const;
export type SelfAlarmKind = (typeof SELF_ALARM_KINDS)[number];

/** Used when EDGE_ALARM_SELF_ALARMS is unset: everything but the heartbeat. */
export const DEFAULT_SELF_ALARMS: readonly SelfAlarmKind[] = ["started", "online", "handler"];

/**
 * Parse a comma-separated list of kinds ("all", "none", or names). Problems are returned, not
 * thrown, so config.ts can report them with every other problem.
 */
export function parseSelfAlarmKinds(raw: string | undefined): { kinds: Set<SelfAlarmKind>; problems: string[] } {
  const value = raw?.trim();
  if (!value) return { kinds: new Set(DEFAULT_SELF_ALARMS), problems: [] };
  if (value === "none") return { kinds: new Set(), problems: [] };
  if (value === "all") return { kinds: new Set(SELF_ALARM_KINDS), problems: [] };
  const kinds = new Set<SelfAlarmKind>();
  const problems: string[] = [];
  for (const item of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    if ((SELF_ALARM_KINDS as readonly string[]).includes(item)) kinds.add(item as SelfAlarmKind);
    else problems.push(`EDGE_ALARM_SELF_ALARMS: unknown kind ${JSON.stringify(item)} (use all, none, or some of ${SELF_ALARM_KINDS.join(", ")})`);
  }
  return { kinds, problems };
}

/** Parse "HH:MM" (24-hour local time); undefined input means no heartbeat. */
export function parseTimeOfDay(raw: string | undefined): { time: string | undefined; problems: string[] } {
  const value = raw?.trim();
  if (!value) return { time: undefined, problems: [] };
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  if (!m) return { time: undefined, problems: [`EDGE_ALARM_HEARTBEAT_AT=${JSON.stringify(value)} must be a 24-hour local time HH:MM, e.g. 09:00`] };
  return { time: value, problems: [] };
}

/** What the self-alarms read from the running dispatcher at each check. */
export interface SelfAlarmSources {
  /** Sandbox.stats(): by sandbox name (`<handler>@<hash>`). */
  handlers(): Readonly<Record<string, { calls: number; failures: Readonly<Partial<Record<string, number>>> }>>;
  /** Outbox.stats() */
  outbox(): { online: boolean; pending: number; deadLetters: number };
  /** Pipeline.stats */
  pipeline(): { events: number; alarms: number; handlerErrors: number };
}

export interface SelfAlarmsOptions {
  cluster: string;
  timezone: string;
  kinds: ReadonlySet<SelfAlarmKind>;
  deliver: (d: Delivery) => Promise<void>;
  logger: Logger;
  sources: SelfAlarmSources;
  version: string;
  /** Keeps the last-alive time (for "back online after N min" across restarts) and the last heartbeat date. */
  stateDir?: string;
  /** "HH:MM" local time of the daily heartbeat; needs kind "heartbeat". */
  heartbeatAt?: string;
  /** A down time at least this long is reported. @default 5 min */
  offlineAfterMs?: number;
  /** "failing" means at least this many failed calls of one handler within `failingWindowMs`. @default 5 */
  failingThreshold?: number;
  /** @default 10 min */
  failingWindowMs?: number;
  /** The same handler card is not repeated within this time. @default 1 h */
  cooldownMs?: number;
  /** Period of the checks and of the alive timestamp. @default 30 s */
  checkIntervalMs?: number;
  /** Wall clock in ms. @default Date.now */
  clock?: () => number;
  /** Delivery channel. @default "default" */
  channel?: string;
}

export interface SelfAlarms {
  /** Once per process, when handlers first run: the start card, or "back online" after a long down time. */
  started(handlers: readonly string[]): Promise<void>;
  /** A handler bundle was refused (HandlerSet's HandlerRejected report). */
  handlerRejected(problem: string): Promise<void>;
  /** Start the periodic checks (handler failures, heartbeat, alive timestamp). */
  start(): void;
  /** Stop the checks and record a clean stop. */
  stop(): Promise<void>;
  /** One round of checks now; the timer calls it every checkIntervalMs. */
  check(): Promise<void>;
}

interface SavedState {
  /** Last time the dispatcher was known to run (ISO). */
  aliveAt?: string;
  /** True when the last run ended with stop(). */
  cleanStop?: boolean;
  /** Local date (YYYY-MM-DD in the display timezone) of the last heartbeat. */
  heartbeatDate?: string;
}

const STATE_FILE = "self-alarms.json";
/** A down time beyond this is a clock problem (a Pi without RTC boots in 1970 or in the past), not real. */
const IMPLAUSIBLE_GAP_MS = 366 * 24 * 3_600_000;

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function createSelfAlarms(opts: SelfAlarmsOptions): SelfAlarms {
  const clock = opts.clock ?? Date.now;
  const offlineAfterMs = opts.offlineAfterMs ?? 5 * 60_000;
  const threshold = opts.failingThreshold ?? 5;
  const windowMs = opts.failingWindowMs ?? 10 * 60_000;
  const cooldownMs = opts.cooldownMs ?? 3_600_000;
  const log = opts.logger.child({ component: "self-alarms" });
  const statePath = opts.stateDir ? `${opts.stateDir}/${STATE_FILE}` : undefined;
  const on = (k: SelfAlarmKind) => opts.kinds.has(k);
  const local = (ms: number, style: "datetime" | "date" | "time") => formatTime(new Date(ms).toISOString(), opts.timezone, style);

  let state: SavedState = {};
  let loaded = false;
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> = Promise.resolve();
  const lastSent = new Map<string, number>();
  /** Per handler: running totals last seen, and recent failures with their time. */
  const seen = new Map<string, { calls: number; kinds: Record<string, number> }>();
  const recent = new Map<string, Array<{ at: number; failed: number; calls: number; kinds: Record<string, number> }>>();
  // Sources are read only from the first check on: the parts they read may not exist yet when
  // the self-alarms are constructed.
  let daily: { at: number; events: number; alarms: number; handlerErrors: number; deadLetters: number } | undefined;
  const snapshot = (at: number) => ({ at, ...opts.sources.pipeline(), deadLetters: opts.sources.outbox().deadLetters });

  const load = async (): Promise<void> => {
    if (loaded || !statePath) return;
    loaded = true;
    const text = await readIfExists(statePath);
    if (!text) return;
    try {
      state = JSON.parse(text) as SavedState;
    } catch (err) {
      log.warn({ err: (err as Error).message }, `ignoring unreadable ${statePath}`);
    }
  };

  const save = async (): Promise<void> => {
    if (!statePath) return;
    try {
      await writeFileAtomic(statePath, JSON.stringify(state));
    } catch (err) {
      log.warn({ err: (err as Error).message }, `cannot write ${statePath}`);
    }
  };

  const send = async (key: string, c: FeishuCard): Promise<void> => {
    const built = buildFeishuBody(c);
    const now = clock();
    lastSent.set(key, now);
    log.info({ selfAlarm: key }, `self-alarm: ${typeof c.header?.title.content === "string" ? c.header.title.content : key}`);
    await opts.deliver({
      at: new Date(now).toISOString(),
      channel: opts.channel ?? "default",
      handler: "edge-alarm",
      eventUid: "",
      fingerprint: hash(`${opts.cluster}\u0000self\u0000${key}`).slice(0, 12),
      ...built,
    });
  };

  const coolingDown = (key: string): boolean => {
    const at = lastSent.get(key);
    return at !== undefined && clock() - at < cooldownMs;
  };

  const footer = () => note(`edge-alarm ${opts.version} · ${opts.timezone} · ${local(clock(), "datetime")}`);

  const checkHandlers = async (): Promise<void> => {
    const now = clock();
    const byHandler = new Map<string, { calls: number; failed: number; kinds: Record<string, number> }>();
    for (const [sandboxName, s] of Object.entries(opts.sources.handlers())) {
      const name = sandboxName.split("@")[0] ?? sandboxName;
      const prev = seen.get(sandboxName) ?? { calls: 0, kinds: {} };
      const kinds: Record<string, number> = {};
      for (const [k, n] of Object.entries(s.failures)) kinds[k] = n ?? 0;
      seen.set(sandboxName, { calls: s.calls, kinds });
      // Counters restart when a new version loads: a lower total is a fresh start.
      const delta = (cur: number, before: number) => (cur >= before ? cur - before : cur);
      const entry = byHandler.get(name) ?? { calls: 0, failed: 0, kinds: {} };
      entry.calls += delta(s.calls, prev.calls);
      for (const [k, n] of Object.entries(kinds)) {
        const d = delta(n, prev.kinds[k] ?? 0);
        if (!d) continue;
        entry.kinds[k] = (entry.kinds[k] ?? 0) + d;
        entry.failed += d;
      }
      byHandler.set(name, entry);
    }
    for (const [name, delta] of byHandler) {
      const list = (recent.get(name) ?? []).filter((r) => now - r.at <= windowMs);
      if (delta.calls || delta.failed) list.push({ at: now, failed: delta.failed, calls: delta.calls, kinds: delta.kinds });
      recent.set(name, list);
      const failed = list.reduce((a, r) => a + r.failed, 0);
      const calls = list.reduce((a, r) => a + r.calls, 0);
      const key = `failing:${name}`;
      if (failed < threshold || coolingDown(key) || !on("handler")) continue;
      const kinds: Record<string, number> = {};
      for (const r of list) for (const [k, n] of Object.entries(r.kinds)) kinds[k] = (kinds[k] ?? 0) + n;
      await send(key, card({
        title: `edge-alarm: handler ${name} failing on ${opts.cluster}`,
        template: "orange",
        elements: [
          div(md`Handler **${name}** failed **${failed}** of ${calls} calls in the last ${minutes(windowMs)}. Events it would have alarmed on may be missing.`),
          fields([md`**Failures:** ${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(", ") || "-"}`, md`**Cluster:** ${opts.cluster}`]),
          div(md`See the dispatcher's log (\`kubectl logs -n monitoring deploy/edge-alarm\`) for each error; fix the handler and rebuild the ConfigMap.`),
          footer(),
        ],
      }));
    }
  };

  const checkHeartbeat = async (): Promise<void> => {
    if (!on("heartbeat") || !opts.heartbeatAt) return;
    const now = clock();
    const today = local(now, "date");
    if (state.heartbeatDate === today || local(now, "time").slice(0, 5) < opts.heartbeatAt) return;
    state.heartbeatDate = today;
    const p = opts.sources.pipeline();
    const o = opts.sources.outbox();
    const since = daily ?? snapshot(now);
    daily = { at: now, ...p, deadLetters: o.deadLetters };
    await save();
    await send(`heartbeat:${today}`, card({
      title: `edge-alarm on ${opts.cluster} is alive`,
      template: "blue",
      elements: [
        div(md`Daily heartbeat. Since ${local(since.at, "datetime")}:`),
        fields([
          md`**Events:** ${p.events - since.events}`,
          md`**Alarms:** ${p.alarms - since.alarms}`,
          md`**Handler errors:** ${p.handlerErrors - since.handlerErrors}`,
          md`**Undeliverable:** ${o.deadLetters - since.deadLetters}`,
          md`**Queued now:** ${o.pending}`,
          md`**Webhook:** ${o.online ? "reachable" : "unreachable"}`,
        ]),
        footer(),
      ],
    }));
  };

  const check = (): Promise<void> => {
    checking = checking.then(async () => {
      daily ??= snapshot(clock());
      await checkHandlers();
      await checkHeartbeat();
      if (statePath) {
        state.aliveAt = new Date(clock()).toISOString();
        state.cleanStop = false;
        await save();
      }
    }).catch((err: unknown) => log.error({ err }, "self-alarm check failed"));
    return checking;
  };

  return {
    async started(handlers) {
      await load();
      const now = clock();
      const lastAlive = state.aliveAt ? Date.parse(state.aliveAt) : NaN;
      const gap = now - lastAlive;
      const plausible = gap >= 0 && gap < IMPLAUSIBLE_GAP_MS;
      // A clock that moved back by more than the threshold also means an unknown down time.
      const wasDown = Number.isFinite(gap) && Math.abs(gap) >= offlineAfterMs;
      const how = state.cleanStop === true ? "stopped" : "not running";
      // Without a heartbeat file, a start after today's heartbeat time counts as today's sign of life.
      if (opts.heartbeatAt && state.heartbeatDate === undefined && local(now, "time").slice(0, 5) >= opts.heartbeatAt) state.heartbeatDate = local(now, "date");
      state.aliveAt = new Date(now).toISOString();
      state.cleanStop = false;
      await save();
      const details = fields([
        md`**Version:** ${opts.version}`,
        md`**Handlers:** ${handlers.join(", ") || "none"}`,
        md`**Cluster:** ${opts.cluster}`,
        md`**Started:** ${local(now, "datetime")}`,
      ]);
      if (wasDown && on("online")) {
        await send("started", card({
          title: plausible ? `edge-alarm back online on ${opts.cluster} after ${minutes(gap)}` : `edge-alarm back online on ${opts.cluster}`,
          template: "green",
          elements: [
            div(plausible
              ? md`edge-alarm was ${how} from ${local(lastAlive, "datetime")} until now: events from that time were alarmed only if Kubernetes still kept them.`
              : md`edge-alarm was ${how} for an unknown time (the clock moved backwards or jumped; is NTP synced?).`),
            details,
            footer(),
          ],
        }));
        return;
      }
      if (!on("started")) return;
      await send("started", card({
        title: `edge-alarm started on ${opts.cluster}`,
        template: "blue",
        elements: [details, footer()],
      }));
    },

    async handlerRejected(problem) {
      if (!on("handler")) return;
      const name = /^handler ([a-z0-9-]+):/.exec(problem)?.[1] ?? "bundle";
      const key = `rejected:${hash(problem)}`;
      if (coolingDown(key)) return;
      await send(key, card({
        title: `edge-alarm: handler ${name} rejected on ${opts.cluster}`,
        template: "orange",
        elements: [
          div(md`${problem}`),
          div(md`The handlers ConfigMap was applied but this bundle did not load. Check it with \`edge-alarm check\` and rebuild.`),
          footer(),
        ],
      }));
    },

    start() {
      if (timer) return;
      timer = setInterval(() => void check(), opts.checkIntervalMs ?? 30_000);
      timer.unref();
    },

    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await checking;
      if (statePath) {
        state.aliveAt = new Date(clock()).toISOString();
        state.cleanStop = true;
        await save();
      }
    },

    check,
  };
}
