import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { parseHandlersConfigMap } from "../../dispatcher/handlers-configmap.ts";
import type { LoadedHandler } from "../../dispatcher/pipeline/pipeline.ts";
import { readEvents, type InputItem } from "../../dispatcher/replay/read-events.ts";
import { replay } from "../../dispatcher/replay/replay.ts";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { assertTimezone } from "../../dispatcher/time-format.ts";
import { bundleHandlers } from "../bundle.ts";
import { UserError } from "../errors.ts";
import { renderDelivery } from "../render-card.ts";
import { cliLogger, parse, UsageError, type Command } from "./args.ts";

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

async function readInputs(files: string[]): Promise<InputItem[]> {
  const items: InputItem[] = [];
  for (const file of files) {
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
  return items;
}

export const replayCommand: Command = {
  name: "replay",
  usage: `replay FILE...    Run recorded events through the handlers; print each Feishu request
                      --handlers DIR    handlers to bundle and run (default: handlers)
                      --bundle FILE     or: a ConfigMap written by \`edge-alarm build\`
                      --json            one JSON line per request, then a summary line
                      --cluster NAME    cluster name for the cards (default: $EDGE_ALARM_CLUSTER or "edge")
                      --timezone TZ     display timezone (default: $EDGE_ALARM_TIMEZONE, $TZ or UTC)`,
  async run(args) {
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
    const items = await readInputs(positionals);
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
  },
};
