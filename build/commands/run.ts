import { createLogger } from "../../dispatcher/log.ts";
import { UserError } from "../errors.ts";
import { parse, UsageError, type Command } from "./args.ts";

export const runCommand: Command = {
  name: "run",
  usage: `run               The in-cluster dispatcher: watch Events, run handlers, send cards
                      --kubeconfig FILE  outside a cluster (default: $KUBECONFIG, else in-cluster)
                    Settings come from EDGE_ALARM_* environment variables (see README)`,
  async run(args) {
    const { values, positionals } = parse(args, { kubeconfig: { type: "string" } });
    if (positionals.length) throw new UsageError("run takes no arguments");
    // Loaded here so the other commands never pay for the dispatcher's imports.
    const { startDispatcher } = await import("../../dispatcher/main.ts");
    const { ConfigError } = await import("../../dispatcher/config.ts");
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
  },
};
