/** Run the `edge-alarm` CLI in this process, capturing what it writes to stderr and stdout. */
import { main } from "../../../build/cli.ts";

export async function runCli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const stderr = process.stderr.write.bind(process.stderr);
  const stdout = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    return { code: await main(args), stderr: err.join(""), stdout: out.join("") };
  } finally {
    process.stderr.write = stderr;
    process.stdout.write = stdout;
  }
}
