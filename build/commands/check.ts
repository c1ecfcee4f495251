import { SDK_VERSION } from "../../sdk/index.ts";
import { UserError } from "../errors.ts";
import { parse, UsageError, type Command } from "./args.ts";

export const checkCommand: Command = {
  name: "check",
  usage: `check [DIR]       Type-check DIR/*.ts (default: handlers) against the sdk`,
  async run(args) {
    const { positionals } = parse(args, {});
    if (positionals.length > 1) throw new UsageError("check takes one DIR");
    const dir = positionals[0] ?? "handlers";
    // TypeScript is large: load it only for this command.
    const { checkHandlers } = await import("../check.ts");
    const result = await checkHandlers(dir);
    for (const d of result.diagnostics) process.stderr.write(`${d}\n`);
    if (!result.ok) throw new UserError(`type check failed for the handlers in ${dir}`);
    process.stderr.write(`handlers in ${dir} type-check against sdk ${SDK_VERSION}\n`);
  },
};
