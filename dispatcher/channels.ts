/**
 * Channel configuration: which sink an alarm's `channel` name goes to. URLs and secrets are
 * credentials, so they come only from the dispatcher's environment or a mounted Secret, never
 * from the handlers ConfigMap, and no problem message, log line or error repeats them.
 *
 * Sources, all optional but at least one channel is needed:
 * - EDGE_ALARM_FEISHU_WEBHOOK (+ EDGE_ALARM_FEISHU_SECRET): the Feishu channel "default".
 * - EDGE_ALARM_CHANNEL_<NAME>_URL, _SECRET, _KIND (feishu | dingtalk | wecom | webhook).
 * - EDGE_ALARM_CHANNELS_DIR: a mounted Secret with files `<name>.url`, `<name>.secret`, `<name>.kind`.
 *
 * Names are case-insensitive and `_` equals `-` (environment variable names cannot hold `-`):
 * EDGE_ALARM_CHANNEL_IOT_OPS_URL defines "iot-ops". Without a kind, it is inferred from the URL
 * path of a known robot; anything else must say `webhook` explicitly, so a mistyped robot URL
 * is an error instead of a silent generic webhook.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "./log.ts";
import { createDingTalkSink, dingTalkWebhookProblem } from "./sinks/dingtalk.ts";
import { createFeishuSink, feishuWebhookProblem } from "./sinks/feishu.ts";
import { proxySettings, type ProxyEnv } from "./sinks/http-transport.ts";
import type { Sink } from "./sinks/sink.ts";
import { createWebhookSink, webhookSinkProblem } from "./sinks/webhook.ts";
import { createWeComSink, weComWebhookProblem } from "./sinks/wecom.ts";

export const CHANNEL_KINDS = ["feishu", "dingtalk", "wecom", "webhook"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export interface ChannelConfig {
  name: string;
  kind: ChannelKind;
  /** Secret. */
  url: string;
  /** Secret: Feishu/DingTalk signing secret, or the generic webhook's HMAC key. */
  secret?: string;
  /** Where it was defined, for messages: variable or file names, never values. */
  source: string;
}

export interface LoadedChannels {
  channels: Map<string, ChannelConfig>;
  problems: string[];
}

export const DEFAULT_CHANNEL = "default";

/** The canonical form of a channel name: lower case, `_` as `-`. */
export function channelKey(name: string): string {
  return name.trim().toLowerCase().replaceAll("_", "-");
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const PROBLEM: Record<ChannelKind, (url: string) => string | null> = {
  feishu: feishuWebhookProblem,
  dingtalk: dingTalkWebhookProblem,
  wecom: weComWebhookProblem,
  webhook: webhookSinkProblem,
};

/** The robot kind a URL's path identifies, if any. */
function inferKind(url: string): ChannelKind | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  if (/^\/open-apis\/bot\//.test(pathname)) return "feishu";
  if (/\/robot\/send$/.test(pathname)) return "dingtalk";
  if (/\/cgi-bin\/webhook\/send$/.test(pathname)) return "wecom";
  return undefined;
}

interface Draft {
  url?: string;
  secret?: string;
  kind?: string;
  sources: string[];
}

function defaultReadFile(file: string): string {
  return readFileSync(file, "utf8");
}

function defaultListDir(dir: string): string[] {
  return readdirSync(dir);
}

export function loadChannels(
  env: Readonly<Record<string, string | undefined>>,
  readFile: (file: string) => string = defaultReadFile,
  listDir: (dir: string) => string[] = defaultListDir,
): LoadedChannels {
  const problems: string[] = [];
  const found = new Map<string, Draft>();
  const get = (name: string): string | undefined => env[name]?.trim() || undefined;
  const entry = (name: string): Draft => {
    let e = found.get(name);
    if (e === undefined) found.set(name, (e = { sources: [] }));
    return e;
  };
  const set = (name: string, field: "url" | "secret" | "kind", value: string, source: string): void => {
    const e = entry(name);
    if (e[field] !== undefined) {
      problems.push(`channel "${name}": its ${field} is set twice (${e.sources.join(", ")} and ${source}); keep one`);
      return;
    }
    e[field] = value;
    e.sources.push(source);
  };

  const feishu = get("EDGE_ALARM_FEISHU_WEBHOOK");
  if (feishu !== undefined) {
    set(DEFAULT_CHANNEL, "url", feishu, "EDGE_ALARM_FEISHU_WEBHOOK");
    set(DEFAULT_CHANNEL, "kind", "feishu", "EDGE_ALARM_FEISHU_WEBHOOK");
  }
  const feishuSecret = get("EDGE_ALARM_FEISHU_SECRET");
  if (feishuSecret !== undefined) {
    if (feishu === undefined) problems.push("EDGE_ALARM_FEISHU_SECRET is set without EDGE_ALARM_FEISHU_WEBHOOK");
    else set(DEFAULT_CHANNEL, "secret", feishuSecret, "EDGE_ALARM_FEISHU_SECRET");
  }

  const VAR = /^EDGE_ALARM_CHANNEL_([A-Za-z0-9_]+?)_(URL|SECRET|KIND)$/;
  for (const [key, raw] of Object.entries(env)) {
    const m = VAR.exec(key);
    const value = raw?.trim();
    if (m === null || !value) continue;
    const name = channelKey(m[1] ?? "");
    if (!NAME.test(name)) {
      problems.push(`${key}: "${name}" is not a usable channel name (letters, digits and -)`);
      continue;
    }
    set(name, (m[2] ?? "URL").toLowerCase() as "url" | "secret" | "kind", value, key);
  }

  const dir = get("EDGE_ALARM_CHANNELS_DIR");
  if (dir !== undefined) {
    let files: string[] = [];
    try {
      files = listDir(dir);
    } catch (err) {
      problems.push(`EDGE_ALARM_CHANNELS_DIR: cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    for (const file of files) {
      // A mounted Secret also holds ..data and timestamped directories: skip dot entries.
      const m = /^([^.][^/]*)\.(url|secret|kind)$/.exec(file);
      if (m === null) continue;
      const name = channelKey(m[1] ?? "");
      if (!NAME.test(name)) {
        problems.push(`${path.join(dir, file)}: "${name}" is not a usable channel name (letters, digits and -)`);
        continue;
      }
      let value: string;
      try {
        value = readFile(path.join(dir, file)).trim();
      } catch (err) {
        problems.push(`${path.join(dir, file)}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        continue;
      }
      if (value !== "") set(name, m[2] as "url" | "secret" | "kind", value, path.join(dir, file));
    }
  }

  const channels = new Map<string, ChannelConfig>();
  for (const [name, e] of found) {
    const where = e.sources.join(", ");
    if (e.url === undefined) {
      problems.push(`channel "${name}" has no URL (from ${where}); set EDGE_ALARM_CHANNEL_${name.toUpperCase().replaceAll("-", "_")}_URL or ${name}.url`);
      continue;
    }
    const kind = e.kind === undefined ? inferKind(e.url) : e.kind.toLowerCase();
    if (kind === undefined) {
      problems.push(`channel "${name}": the URL is not a Feishu, DingTalk or WeCom robot URL; set its kind (${CHANNEL_KINDS.join(" | ")}) explicitly`);
      continue;
    }
    if (!(CHANNEL_KINDS as readonly string[]).includes(kind)) {
      problems.push(`channel "${name}": unknown kind "${kind}" (from ${where}); use one of ${CHANNEL_KINDS.join(", ")}`);
      continue;
    }
    const urlProblem = PROBLEM[kind as ChannelKind](e.url);
    if (urlProblem !== null) {
      problems.push(`channel "${name}" (from ${where}): ${urlProblem}`);
      continue;
    }
    if (kind === "wecom" && e.secret !== undefined) {
      problems.push(`channel "${name}": WeCom robots have no signing secret; remove it (from ${where})`);
      continue;
    }
    const config: ChannelConfig = { name, kind: kind as ChannelKind, url: e.url, source: where };
    if (e.secret !== undefined) config.secret = e.secret;
    channels.set(name, config);
  }
  if (channels.size === 0 && problems.length === 0) {
    problems.push("no alarm channel is configured: set EDGE_ALARM_FEISHU_WEBHOOK (from a Secret), EDGE_ALARM_CHANNEL_<NAME>_URL or EDGE_ALARM_CHANNELS_DIR");
  }
  return { channels, problems };
}

/** Channels as a list for logs: names and kinds, never URLs or secrets. */
export function describeChannels(channels: ReadonlyMap<string, ChannelConfig>): Array<{ name: string; kind: ChannelKind; signed: boolean }> {
  return [...channels.values()].map((c) => ({ name: c.name, kind: c.kind, signed: c.secret !== undefined }));
}

export interface CreateSinksOptions {
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read. Default process.env. */
  env?: ProxyEnv;
  timeoutMs?: number;
}

/** One sink per channel, each with its own keep-alive dispatcher; the caller closes them. */
export function createSinks(channels: ReadonlyMap<string, ChannelConfig>, logger: Logger, opts: CreateSinksOptions = {}): Map<string, Sink> {
  const proxy = proxySettings(opts.env ?? process.env);
  const sinks = new Map<string, Sink>();
  for (const c of channels.values()) {
    const common = { name: c.name, logger: logger.child({ channel: c.name }), proxy, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) };
    const secret = c.secret === undefined ? {} : { secret: c.secret };
    switch (c.kind) {
      case "feishu":
        sinks.set(c.name, createFeishuSink({ ...common, ...secret, webhook: c.url }));
        break;
      case "dingtalk":
        sinks.set(c.name, createDingTalkSink({ ...common, ...secret, webhook: c.url }));
        break;
      case "wecom":
        sinks.set(c.name, createWeComSink({ ...common, webhook: c.url }));
        break;
      case "webhook":
        sinks.set(c.name, createWebhookSink({ ...common, ...secret, webhook: c.url }));
        break;
    }
  }
  return sinks;
}
