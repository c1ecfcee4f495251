/**
 * Build-time check: load a bundle into a throwaway sandbox (its own worker, so a bundle whose top
 * level never returns cannot hang the build) and report whether it exports a handler.
 */
import { Sandbox } from "./sandbox.ts";
import type { LoadResult, SandboxOptions } from "./types.ts";

export async function validateBundle(name: string, code: string, opts: SandboxOptions = {}): Promise<LoadResult> {
  const sandbox = await Sandbox.create(opts);
  try {
    return await sandbox.load(name, code);
  } finally {
    await sandbox.close();
  }
}
