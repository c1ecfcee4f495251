/**
 * The one root logger: pino JSON to stdout. Webhook URLs and secrets are redacted by path, and
 * nothing else in the code logs them.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.EDGE_ALARM_LOG_LEVEL ?? "info",
      base: undefined,
      redact: { paths: ["webhook", "secret", "*.webhook", "*.secret", "url", "*.url"], censor: "[redacted]" },
    },
    opts.destination ?? process.stdout,
  );
}
