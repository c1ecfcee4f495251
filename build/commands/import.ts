import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { handlerNameProblem } from "../../dispatcher/handlers-configmap.ts";
import { UserError } from "../errors.ts";
import { convertExporterConfig, type ImportNote } from "../import/convert.ts";
import { readExporterConfig } from "../import/exporter-config.ts";
import { parse, UsageError, type Command } from "./args.ts";

const TITLES: Record<ImportNote["kind"], string> = {
  "not-converted": "Not converted",
  difference: "Differences",
  todo: "To do",
};

/** The notes as the terminal shows them, grouped by kind. */
export function formatNotes(notes: readonly ImportNote[]): string {
  const blocks: string[] = [];
  for (const kind of ["not-converted", "difference", "todo"] as const) {
    const mine = notes.filter((n) => n.kind === kind);
    if (mine.length) blocks.push(`${TITLES[kind]}:\n${mine.map((n) => `  - ${n.text}`).join("\n")}`);
  }
  return blocks.join("\n\n");
}

export const importCommand: Command = {
  name: "import",
  usage: `import FILE       Convert a kubernetes-event-exporter config (its config.yaml, or the ConfigMap) into a handler
                      --out FILE.ts     where to write it (default: stdout); the name becomes the handler's name
                      --force           overwrite --out if it exists`,
  async run(args) {
    const { values, positionals } = parse(args, { out: { type: "string" }, force: { type: "boolean" } });
    if (positionals.length !== 1) throw new UsageError("import takes one FILE: an event-exporter config.yaml or the ConfigMap holding it");
    const file = positionals[0] ?? "";
    const out = values.out;
    if (out !== undefined) {
      if (!out.endsWith(".ts")) throw new UsageError(`--out must name a .ts file, got ${out}`);
      const bad = handlerNameProblem(path.basename(out, ".ts"));
      if (bad) throw new UserError(`--out ${out}: the handler name "${path.basename(out, ".ts")}" ${bad}`);
      if (existsSync(out) && !values.force) throw new UserError(`${out} exists; pass --force to overwrite it`);
    }
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const result = convertExporterConfig(readExporterConfig(text, file));
    if (out === undefined) process.stdout.write(result.source);
    else await writeFile(out, result.source);
    const where = out === undefined ? "" : ` → ${out}`;
    const converted = result.receivers.length ? `receiver${result.receivers.length === 1 ? "" : "s"} ${result.receivers.join(", ")}` : "no receiver";
    process.stderr.write(`imported ${file}: ${converted}${where}\n\n${formatNotes(result.notes)}\n`);
    if (out !== undefined) {
      process.stderr.write(`\nNext: edge-alarm check ${path.dirname(out)} && edge-alarm replay --handlers ${path.dirname(out)} <events>\n`);
    }
  },
};
