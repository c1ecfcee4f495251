import { writeFile } from "node:fs/promises";
import { parse, UsageError, type Command } from "./args.ts";

export const buildCommand: Command = {
  name: "build",
  usage: `build [DIR]       Bundle DIR/*.ts (default: handlers) into a handlers ConfigMap
                      --out FILE|-      where to write the YAML (default: - for stdout)
                      --name NAME       ConfigMap name (default: edge-alarm-handlers)
                      --namespace NS    ConfigMap namespace (default: monitoring)`,
  async run(args) {
    const { values, positionals } = parse(args, { out: { type: "string" }, name: { type: "string" }, namespace: { type: "string" } });
    if (positionals.length > 1) throw new UsageError("build takes one DIR");
    const dir = positionals[0] ?? "handlers";
    const { buildConfigMap } = await import("../configmap.ts");
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
  },
};
