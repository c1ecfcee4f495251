#!/usr/bin/env node
/**
 * The `edge-alarm` command. Commands live in ./commands; only `main` decides the exit code
 * (0 ok, 1 the user's problem to fix, 2 bad usage) and it never calls process.exit, so pending
 * output is flushed.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { UsageError } from "./commands/args.ts";
import { COMMANDS } from "./commands/index.ts";
import { isUserError } from "./errors.ts";

export const USAGE = `edge-alarm: Kubernetes Event alarms for edge clusters, with TypeScript handlers

Usage: edge-alarm <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.usage}`).join("\n")}
  help              Show this help

Examples:
  npx edge-alarm replay build/samples/events.ndjson
  npx edge-alarm build handlers | kubectl apply -f -
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process[name === undefined ? "stderr" : "stdout"].write(USAGE);
    return name === undefined ? 2 : 0;
  }
  try {
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    await command.run(args);
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
