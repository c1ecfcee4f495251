import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { displayPath } from "../hints.ts";
import { scaffoldFiles } from "../templates/scaffold.ts";
import { parse, UsageError, type Command } from "./args.ts";

export const initCommand: Command = {
  name: "init",
  usage: `init [DIR]        Scaffold a site repository in DIR (default: .): handlers/default.ts, tsconfig, npm scripts
                      --force           overwrite files that exist (default: keep them)`,
  async run(args) {
    const { values, positionals } = parse(args, { force: { type: "boolean" } });
    if (positionals.length > 1) throw new UsageError("init takes one DIR");
    const dir = positionals[0] ?? ".";
    const written: string[] = [];
    const kept: string[] = [];
    for (const file of scaffoldFiles(dir)) {
      const target = path.join(dir, file.path);
      if (existsSync(target) && !values.force) {
        kept.push(file.path);
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const text = typeof file.text === "string" ? file.text : await readFile(file.text.copyFrom, "utf8");
      await writeFile(target, text);
      written.push(file.path);
    }
    const shown = displayPath(dir);
    const lines = [`initialised ${shown}: wrote ${written.length ? written.join(", ") : "nothing"}`];
    if (kept.length) lines.push(`kept existing ${kept.join(", ")} (--force overwrites them)`);
    lines.push(
      "",
      "Next:",
      `  cd ${shown}`,
      "  npm run check      # type-check handlers/default.ts",
      "  npm run dev        # live preview at http://127.0.0.1:8787",
      "  npm run -s build | kubectl apply -f -",
    );
    process.stderr.write(`${lines.join("\n")}\n`);
  },
};
