/**
 * What a handler gets beside the event. Time formatting is a host helper backed by Node's Intl,
 * because QuickJS has no Intl and ignores timezone arguments.
 */

/**
 * `datetime` 2026-11-20 14:00:00 · `zoned` 2026-11-20 14:00:00 +08:00 · `date` · `time` · `iso` (UTC) ·
 * `go` 2026-11-20 14:00:00 +0800 CST: Go's default time format, as kubernetes-event-exporter
 * prints `{{ .LastTimestamp }}` (the zone abbreviation of tzdata where known, else `+08`).
 */
export type TimeStyle = "datetime" | "zoned" | "date" | "time" | "iso" | "go";

export interface HandlerContext {
  /** The cluster name, from EDGE_ALARM_CLUSTER. */
  readonly cluster: string;
  /** IANA timezone for display, e.g. "Asia/Shanghai". */
  readonly timezone: string;
  /** When the dispatcher handled the event (RFC 3339, UTC); the replay clock in `replay`. */
  readonly now: string;
  /** This handler's name (its file name without `.ts`). */
  readonly handler: string;
  /** Format an RFC 3339 time in `timezone`. Unparseable input comes back unchanged. */
  formatTime(iso: string, style?: TimeStyle): string;
}

/** The data part of a context, as it crosses into the sandbox. */
export interface ContextData {
  cluster: string;
  timezone: string;
  now: string;
  handler: string;
}
