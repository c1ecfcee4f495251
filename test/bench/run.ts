/**
 * `npm run bench`: prints speed and memory figures (nothing here asserts timings; the storm
 * section asserts coverage and rate limits, which are correctness). Sections run one after the
 * other so they do not disturb each other's numbers. Run one alone with `npm run bench -- NAME`.
 */
import os from "node:os";

const SECTIONS: Record<string, () => Promise<unknown>> = {
  sandbox: async () => (await import("./sandbox.bench.ts")).benchSandbox(),
  storm: async () => (await import("./storm.bench.ts")).benchStorm(),
  memory: async () => (await import("./memory.bench.ts")).benchMemory(),
};

const only = process.argv.slice(2);
console.log(`edge-alarm bench · node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · ${new Date().toISOString()}`);
for (const [name, run] of Object.entries(SECTIONS)) {
  if (only.length && !only.includes(name)) continue;
  console.log(`\n## ${name}`);
  await run();
}
