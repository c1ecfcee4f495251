import { assertTimezone } from "../../dispatcher/time-format.ts";
import { startDev } from "../dev/dev-session.ts";
import { UserError } from "../errors.ts";
import { cliLogger, parse, UsageError, type Command } from "./args.ts";

export const devCommand: Command = {
  name: "dev",
  usage: `dev [DIR]         Rebuild DIR/*.ts (default: handlers) on save and preview every card in a local inbox
                      --port N          inbox port on 127.0.0.1 (default: 8787; 0 picks a free one)
                      --kubeconfig FILE events from this cluster (default: $KUBECONFIG, else ~/.kube/config);
                                        when no cluster answers, the bundled sample events are replayed
                      --replay FILE     replay these recorded events in a loop instead of watching a cluster
                      --speed N         replay N times faster than recorded (default: 30)
                      --cluster NAME    cluster name for the cards (default: $EDGE_ALARM_CLUSTER or "dev")
                      --timezone TZ     display timezone (default: $EDGE_ALARM_TIMEZONE, $TZ or UTC)
                    With EDGE_ALARM_FEISHU_WEBHOOK (and _SECRET) set, cards also go to that bot`,
  async run(args) {
    const { values, positionals } = parse(args, {
      port: { type: "string" }, kubeconfig: { type: "string" }, replay: { type: "string" }, speed: { type: "string" },
      cluster: { type: "string" }, timezone: { type: "string" },
    });
    if (positionals.length > 1) throw new UsageError("dev takes one DIR");
    const port = Number(values.port ?? 8787);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got ${values.port}`);
    const speed = Number(values.speed ?? 30);
    if (!(speed > 0)) throw new UsageError(`--speed must be a positive number, got ${values.speed}`);
    const timezone = values.timezone ?? process.env.EDGE_ALARM_TIMEZONE ?? process.env.TZ ?? "UTC";
    try {
      assertTimezone(timezone);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    const env = process.env;
    const session = await startDev({
      dir: positionals[0] ?? "handlers",
      port,
      speed,
      timezone,
      cluster: values.cluster ?? env.EDGE_ALARM_CLUSTER ?? "dev",
      logger: cliLogger(),
      env,
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      ...(values.replay ? { replay: values.replay } : {}),
      ...(env.EDGE_ALARM_FEISHU_WEBHOOK ? { webhook: env.EDGE_ALARM_FEISHU_WEBHOOK } : {}),
      ...(env.EDGE_ALARM_FEISHU_SECRET ? { secret: env.EDGE_ALARM_FEISHU_SECRET } : {}),
    });
    process.stderr.write(`\ncard inbox: ${session.url}\nevents: ${session.source}\nwatching ${positionals[0] ?? "handlers"} for changes; Ctrl-C to stop\n\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void session.stop().finally(resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  },
};
