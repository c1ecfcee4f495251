/**
 * The dispatcher's settings, from environment variables only. Every problem is collected and
 * reported together at start-up, so one restart fixes them all. Secrets stay in this object and
 * are never logged (see `describeConfig`).
 */
import { describeChannels, loadChannels, type ChannelConfig } from "./channels.ts";
import { groupingSettingsFromEnv, type GroupingSettings } from "./grouping/index.ts";
import { hostname } from "node:os";
import { envReader } from "./env-reader.ts";
import { parseSelfAlarmKinds, parseTimeOfDay, type SelfAlarmKind } from "./self-alarms.ts";
import { assertTimezone } from "./time-format.ts";
import type { SandboxIsolation } from "./sandbox/index.ts";

export interface Config {
  /** EDGE_ALARM_CLUSTER: shown on every card. Required. */
  cluster: string;
  /** EDGE_ALARM_NAMESPACE: where the handlers ConfigMap and the dispatcher's own Events live. */
  namespace: string;
  /** EDGE_ALARM_HANDLERS_CONFIGMAP: the ConfigMap written by `edge-alarm build`. */
  handlersConfigMap: string;
  /** EDGE_ALARM_WATCH_NAMESPACES: comma-separated; empty means all namespaces. */
  watchNamespaces: string[];
  /** EDGE_ALARM_STATE_DIR: small state (checkpoint); without it a restart may re-alarm recent events. */
  stateDir: string | undefined;
  /** EDGE_ALARM_TIMEZONE, else TZ, else UTC: display timezone for cards. */
  timezone: string;
  /**
   * Where alarms go, by channel name (see channels.ts): EDGE_ALARM_FEISHU_WEBHOOK and
   * EDGE_ALARM_FEISHU_SECRET define "default"; EDGE_ALARM_CHANNEL_<NAME>_URL/_SECRET/_KIND and
   * EDGE_ALARM_CHANNELS_DIR define more. Secrets.
   */
  channels: Map<string, ChannelConfig>;
  /** EDGE_ALARM_SPOOL_CAP_BYTES: spool size before the oldest pending alarms are folded into a summary. */
  spoolCapBytes: number;
  /** EDGE_ALARM_GROUP_WAIT, _GROUP_INTERVAL, _REPEAT_INTERVAL, _DIGEST_GROUPS, _STORM_*: see grouping/settings.ts. */
  grouping: GroupingSettings;
  /** EDGE_ALARM_HTTP_PORT: /healthz, /readyz. */
  httpPort: number;
  /** EDGE_ALARM_INITIAL_MAX_AGE_SECONDS: with no checkpoint, listed events older than this are not alarmed. */
  initialMaxAgeSeconds: number;
  /** EDGE_ALARM_HANDLER_TIMEOUT_MS: per-event deadline of a handler. */
  handlerTimeoutMs: number;
  /** EDGE_ALARM_SANDBOX_ISOLATION: handlers on the dispatcher's thread (default) or in a worker thread. */
  sandboxIsolation: SandboxIsolation;
  /** EDGE_ALARM_LEADER_ELECTION: with several replicas, only the holder of the Lease sends. Default false. */
  leaderElection: boolean;
  /** EDGE_ALARM_LEASE_NAME: the Lease in `namespace`. Default edge-alarm. */
  leaseName: string;
  /** EDGE_ALARM_POD_NAME, else the host name: this replica's identity in the Lease. */
  podName: string;
  /** EDGE_ALARM_SELF_ALARMS: which cards about edge-alarm itself are sent. */
  selfAlarms: Set<SelfAlarmKind>;
  /** EDGE_ALARM_HEARTBEAT_AT: HH:MM local time of the daily heartbeat (09:00 when the kind is on). */
  heartbeatAt: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const { get, int } = envReader(env, problems);

  const cluster = get("EDGE_ALARM_CLUSTER") ?? "";
  if (!cluster) problems.push("EDGE_ALARM_CLUSTER is required: the cluster name shown on every card");

  const namespace = get("EDGE_ALARM_NAMESPACE") ?? "monitoring";
  if (!DNS_LABEL.test(namespace)) problems.push(`EDGE_ALARM_NAMESPACE=${JSON.stringify(namespace)} is not a valid namespace name`);

  const handlersConfigMap = get("EDGE_ALARM_HANDLERS_CONFIGMAP") ?? "edge-alarm-handlers";
  if (!DNS_SUBDOMAIN.test(handlersConfigMap)) problems.push(`EDGE_ALARM_HANDLERS_CONFIGMAP=${JSON.stringify(handlersConfigMap)} is not a valid ConfigMap name`);

  const watchNamespaces = (get("EDGE_ALARM_WATCH_NAMESPACES") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const ns of watchNamespaces) if (!DNS_LABEL.test(ns)) problems.push(`EDGE_ALARM_WATCH_NAMESPACES: ${JSON.stringify(ns)} is not a valid namespace name`);

  const timezone = get("EDGE_ALARM_TIMEZONE") ?? get("TZ") ?? "UTC";
  try {
    assertTimezone(timezone);
  } catch (err) {
    problems.push(`EDGE_ALARM_TIMEZONE: ${(err as Error).message}`);
  }

  // Channel problems never repeat URLs or secrets: they carry the bots' tokens.
  const { channels, problems: channelProblems } = loadChannels(env);
  problems.push(...channelProblems);

  const grouping = groupingSettingsFromEnv(env);
  problems.push(...grouping.problems);

  const leaderElection = get("EDGE_ALARM_LEADER_ELECTION") ?? "false";
  if (leaderElection !== "true" && leaderElection !== "false") problems.push(`EDGE_ALARM_LEADER_ELECTION=${JSON.stringify(leaderElection)} must be true or false`);
  const sandboxIsolation = get("EDGE_ALARM_SANDBOX_ISOLATION") ?? "thread";
  if (sandboxIsolation !== "thread" && sandboxIsolation !== "worker") problems.push(`EDGE_ALARM_SANDBOX_ISOLATION=${JSON.stringify(sandboxIsolation)} must be thread or worker`);
  const leaseName = get("EDGE_ALARM_LEASE_NAME") ?? "edge-alarm";
  if (!DNS_SUBDOMAIN.test(leaseName)) problems.push(`EDGE_ALARM_LEASE_NAME=${JSON.stringify(leaseName)} is not a valid Lease name`);
  const selfAlarms = parseSelfAlarmKinds(get("EDGE_ALARM_SELF_ALARMS"));
  problems.push(...selfAlarms.problems);
  const heartbeat = parseTimeOfDay(get("EDGE_ALARM_HEARTBEAT_AT"));
  problems.push(...heartbeat.problems);

  const config: Config = {
    cluster,
    namespace,
    handlersConfigMap,
    watchNamespaces,
    stateDir: get("EDGE_ALARM_STATE_DIR"),
    timezone,
    channels,
    spoolCapBytes: int("EDGE_ALARM_SPOOL_CAP_BYTES", 4 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
    grouping: grouping.settings,
    leaderElection: leaderElection === "true",
    leaseName,
    podName: get("EDGE_ALARM_POD_NAME") ?? hostname(),
    selfAlarms: selfAlarms.kinds,
    heartbeatAt: heartbeat.time ?? (selfAlarms.kinds.has("heartbeat") ? "09:00" : undefined),
    httpPort: int("EDGE_ALARM_HTTP_PORT", 8080, 0, 65535),
    initialMaxAgeSeconds: int("EDGE_ALARM_INITIAL_MAX_AGE_SECONDS", 600, 0, 86_400),
    handlerTimeoutMs: int("EDGE_ALARM_HANDLER_TIMEOUT_MS", 50, 1, 10_000),
    sandboxIsolation: sandboxIsolation === "worker" ? "worker" : "thread",
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** The configuration as it may be logged: secrets replaced by whether they are set. */
export function describeConfig(c: Config): Record<string, unknown> {
  return { ...c, channels: describeChannels(c.channels), selfAlarms: [...c.selfAlarms] };
}
