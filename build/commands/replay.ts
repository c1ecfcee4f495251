import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { parseHandlersConfigMap } from "../../dispatcher/handlers-configmap.ts";
import type { LoadedHandler } from "../../dispatcher/pipeline/pipeline.ts";
import { readEvents, type InputItem } from "../../dispatcher/replay/read-events.ts";
import { groupingSettingsFromEnv, parseDuration, parseHandlerGrouping, type GroupingSettings } from "../../dispatcher/grouping/settings.ts";
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

/** Grouping from EDGE_ALARM_GROUP_* and the flags (flags win); false with --no-grouping. */
function groupingOptions(values: { "no-grouping"?: boolean; "group-wait"?: string; "group-interval"?: string; "repeat-interval"?: string }): GroupingSettings | false {
  if (values["no-grouping"]) return false;
  const { settings, problems } = groupingSettingsFromEnv(process.env);
  if (problems.length) throw new UserError(problems.join("\n"));
  const flag = (name: "group-wait" | "group-interval" | "repeat-interval"): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    try {
      return parseDuration(raw);
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  const wait = flag("group-wait"), interval = flag("group-interval"), repeat = flag("repeat-interval");
  return {
    ...settings,
    timing: {
      waitMs: wait ?? settings.timing.waitMs,
      intervalMs: interval ?? settings.timing.intervalMs,
      repeatMs: repeat ?? settings.timing.repeatMs,
    },
  };
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
                      --group-wait D, --group-interval D, --repeat-interval D
                                        grouping timers (default: $EDGE_ALARM_GROUP_WAIT, … or 1s, 5m, 1h)
                      --no-grouping     one request per alarm, as without a grouper
                      --cluster NAME    cluster name for the cards (default: $EDGE_ALARM_CLUSTER or "edge")
                      --timezone TZ     display timezone (default: $EDGE_ALARM_TIMEZONE, $TZ or UTC)`,
  async run(args) {
    const { values, positionals } = parse(args, {
      handlers: { type: "string" }, bundle: { type: "string" }, json: { type: "boolean" },
      cluster: { type: "string" }, timezone: { type: "string" },
      "group-wait": { type: "string" }, "group-interval": { type: "string" }, "repeat-interval": { type: "string" },
      "no-grouping": { type: "boolean" },
    });
    if (positionals.length === 0) throw new UsageError("replay needs at least one FILE of events");
    const timezone = values.timezone ?? process.env.EDGE_ALARM_TIMEZONE ?? process.env.TZ ?? "UTC";
    try {
      assertTimezone(timezone);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    const grouping = groupingOptions(values);
    const items = await readInputs(positionals);
    const bundles = await loadBundles(values);
    const logger = cliLogger();
    const sandbox = await Sandbox.create({ logger });
    try {
      const handlers: LoadedHandler[] = [];
      for (const b of bundles) {
        const r = await sandbox.load(b.name, b.code);
        if (!r.ok) {
          process.stderr.write(`error: handler ${b.name} rejected: ${r.error}\n`);
          continue;
        }
        // A sandbox that reports the handler's `grouping` declaration gets it honoured here.
        const declared = parseHandlerGrouping("grouping" in r ? r.grouping : undefined);
        for (const p of declared.problems) process.stderr.write(`warning: handler ${b.name}: ${p}\n`);
        const own = Object.keys(declared.grouping).length ? { grouping: declared.grouping } : {};
        handlers.push({ name: b.name, ...(r.match ? { match: r.match } : {}), ...own });
      }
      if (handlers.length === 0) throw new UserError("no handler could be loaded");
      const colour = process.stdout.isTTY === true;
      const { summary } = await replay(items, {
        host: sandbox,
        handlers,
        cluster: values.cluster ?? process.env.EDGE_ALARM_CLUSTER ?? "edge",
        timezone,
        logger,
        grouping,
        onDelivery: (d) => {
          process.stdout.write(values.json ? `${JSON.stringify({ at: d.at, channel: d.channel, body: d.body })}\n` : `${renderDelivery(d, colour)}\n`);
        },
      });
      if (values.json) process.stdout.write(`${JSON.stringify({ summary })}\n`);
      else process.stdout.write(`${summary.events} events → ${summary.alarms} alarms in ${summary.groups} groups, ${summary.requests} requests, ${summary.bytes} bytes, ${summary.suppressed} occurrences suppressed, ${summary.handlerErrors} handler errors\n`);
    } finally {
      await sandbox.close();
    }
  },
};
