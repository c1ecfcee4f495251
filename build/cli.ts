#!/usr/bin/env node
/**
 * The `edge-alarm` command. Each command is a small async function; only `main` decides the exit
 * code (0 ok, 1 the user's problem to fix, 2 bad usage) and it never calls process.exit, so
 * pending output is flushed.
 */
import { realpathSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { pathToFileURL } from "node:url";
import { Writable } from "node:stream";
import { parse as parseYaml } from "yaml";
import { SDK_VERSION } from "../sdk/index.ts";
import { createLogger, type Logger } from "../dispatcher/log.ts";
import { parseHandlersConfigMap } from "../dispatcher/handlers-configmap.ts";
import { readEvents, type InputItem } from "../dispatcher/replay/read-events.ts";
import { replay } from "../dispatcher/replay/replay.ts";
import { Sandbox } from "../dispatcher/sandbox/index.ts";
import type { LoadedHandler } from "../dispatcher/pipeline/pipeline.ts";
import { assertTimezone } from "../dispatcher/time-format.ts";
import { bundleHandlers } from "./bundle.ts";
import { buildConfigMap } from "./configmap.ts";
import { checkHandlers } from "./check.ts";
import { isUserError, UserError } from "./errors.ts";
import { renderDelivery } from "./render-card.ts";

const USAGE = `edge-alarm: Kubernetes Event alarms for edge clusters, with TypeScript handlers

Usage: edge-alarm <command> [options]

Commands:
  build [DIR]       Bundle DIR/*.ts (default: handlers) into a handlers ConfigMap
                      --out FILE|-      where to write the YAML (default: - for stdout)
                      --name NAME       ConfigMap name (default: edge-alarm-handlers)
                      --namespace NS    ConfigMap namespace (default: monitoring)
  check [DIR]       Type-check DIR/*.ts (default: handlers) against the sdk
  replay FILE...    Run recorded events through the handlers; print each Feishu request
                      --handlers DIR    handlers to bundle and run (default: handlers)
                      --bundle FILE     or: a ConfigMap written by \`edge-alarm build\`
                      --json            one JSON line per request, then a summary line
                      --cluster NAME    cluster name for the cards (default: $EDGE_ALARM_CLUSTER or "edge")
                      --timezone TZ     display timezone (default: $EDGE_ALARM_TIMEZONE, $TZ or UTC)
  run               The in-cluster dispatcher: watch Events, run handlers, send cards
                      --kubeconfig FILE  outside a cluster (default: $KUBECONFIG, else in-cluster)
                    Settings come from EDGE_ALARM_* environment variables (see README)
  help              Show this help

Examples:
  npx edge-alarm replay build/samples/events.ndjson
  npx edge-alarm build handlers | kubectl apply -f -
`;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Human-readable log lines on stderr for the CLI; the dispatcher itself logs JSON. */
function cliLogger(): Logger {
  const stderr = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) {
        const rec = JSON.parse(line) as { level: number; msg?: string; err?: string };
        const level = rec.level >= 50 ? "error" : rec.level >= 40 ? "warning" : "info";
        process.stderr.write(`${level}: ${rec.msg ?? ""}${rec.err && rec.level >= 50 ? `\n${rec.err}` : ""}\n`);
      }
      done();
    },
  });
  return createLogger({ level: process.env.EDGE_ALARM_LOG_LEVEL ?? "info", destination: stderr });
}

async function build(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { out: { type: "string" }, name: { type: "string" }, namespace: { type: "string" } });
  if (positionals.length > 1) throw new UsageError("build takes one DIR");
  const dir = positionals[0] ?? "handlers";
  const built = await buildConfigMap(dir, {
    ...(values.name ? { name: values.name } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
  });
  for (const w of built.warnings) process.stderr.write(`warning: ${w}\n`);
  const out = values.out ?? "-";
  if (out === "-") process.stdout.write(built.yaml);
  else await writeFile(out, built.yaml);
  process.stderr.write(`built ${built.bundles.length} handler(s): ${built.bundles.map((b) => `${b.name} (${b.bytes} B)`).join(", ")}${out === "-" ? "" : ` → ${out}`}\n`);
}

async function check(args: string[]): Promise<void> {
  const { positionals } = parse(args, {});
  if (positionals.length > 1) throw new UsageError("check takes one DIR");
  const dir = positionals[0] ?? "handlers";
  const result = await checkHandlers(dir);
  for (const d of result.diagnostics) process.stderr.write(`${d}\n`);
  if (!result.ok) throw new UserError(`type check failed for the handlers in ${dir}`);
  process.stderr.write(`handlers in ${dir} type-check against sdk ${SDK_VERSION}\n`);
}

async function loadBundles(values: { handlers?: string; bundle?: string }): Promise<Array<{ name: string; code: string }>> {
  if (values.handlers && values.bundle) throw new UsageError("give --handlers or --bundle, not both");
  if (values.bundle) {
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(values.bundle, "utf8"));
    } catch (err) {
      throw new UserError(`cannot read ${values.bundle}: ${(err as Error).message}`);
    }
    const parsed = parseHandlersConfigMap(doc);
    for (const p of parsed.problems) process.stderr.write(`warning: ${values.bundle}: ${p}\n`);
    return parsed.bundles;
  }
  return bundleHandlers(values.handlers ?? "handlers");
}

async function replayCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    handlers: { type: "string" }, bundle: { type: "string" }, json: { type: "boolean" },
    cluster: { type: "string" }, timezone: { type: "string" },
  });
  if (positionals.length === 0) throw new UsageError("replay needs at least one FILE of events");
  const timezone = values.timezone ?? process.env.EDGE_ALARM_TIMEZONE ?? process.env.TZ ?? "UTC";
  try {
    assertTimezone(timezone);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const items: InputItem[] = [];
  for (const file of positionals) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const r = readEvents(text, file);
    for (const p of r.problems) process.stderr.write(`warning: ${p}\n`);
    items.push(...r.items);
  }
  const bundles = await loadBundles(values);
  const logger = cliLogger();
  const sandbox = await Sandbox.create({ logger });
  try {
    const handlers: LoadedHandler[] = [];
    for (const b of bundles) {
      const r = await sandbox.load(b.name, b.code);
      if (r.ok) handlers.push({ name: b.name, ...(r.match ? { match: r.match } : {}) });
      else process.stderr.write(`error: handler ${b.name} rejected: ${r.error}\n`);
    }
    if (handlers.length === 0) throw new UserError("no handler could be loaded");
    const colour = process.stdout.isTTY === true;
    const { summary } = await replay(items, {
      host: sandbox,
      handlers,
      cluster: values.cluster ?? process.env.EDGE_ALARM_CLUSTER ?? "edge",
      timezone,
      logger,
      onDelivery: (d) => {
        process.stdout.write(values.json ? `${JSON.stringify({ at: d.at, channel: d.channel, body: d.body })}\n` : `${renderDelivery(d, colour)}\n`);
      },
    });
    if (values.json) process.stdout.write(`${JSON.stringify({ summary })}\n`);
    else process.stdout.write(`${summary.events} events → ${summary.alarms} alarms, ${summary.requests} requests, ${summary.bytes} bytes, ${summary.handlerErrors} handler errors\n`);
  } finally {
    await sandbox.close();
  }
}

async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { kubeconfig: { type: "string" } });
  if (positionals.length) throw new UsageError("run takes no arguments");
  const { startDispatcher } = await import("../dispatcher/main.ts");
  const { ConfigError } = await import("../dispatcher/config.ts");
  const logger = createLogger();
  let dispatcher;
  try {
    dispatcher = await startDispatcher({ logger, ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(err.message);
    throw err;
  }
  const d = dispatcher;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "stopping");
      d.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, "error while stopping");
        resolve();
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  build,
  check,
  replay: replayCommand,
  run,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process[command === undefined ? "stderr" : "stdout"].write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    await run(args);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`edge-alarm: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (isUserError(err)) {
      process.stderr.write(`edge-alarm: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

// Run only as the entry point (npx links bin/edge-alarm to this file), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
