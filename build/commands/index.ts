/** Every `edge-alarm` command, in the order the help lists them. Add a command here. */
import type { Command } from "./args.ts";
import { buildCommand } from "./build.ts";
import { checkCommand } from "./check.ts";
import { devCommand } from "./dev.ts";
import { importCommand } from "./import.ts";
import { initCommand } from "./init.ts";
import { manifestsCommand } from "./manifests.ts";
import { replayCommand } from "./replay.ts";
import { runCommand } from "./run.ts";
import { sendTestCommand } from "./send-test.ts";

export const COMMANDS: readonly Command[] = [buildCommand, checkCommand, replayCommand, runCommand, manifestsCommand, initCommand, devCommand, importCommand, sendTestCommand];
