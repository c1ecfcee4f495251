import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childrenOf, isRunning } from "./proc-info.ts";
import { getTestEnv } from "./use-testenv.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const run = promisify(execFile);

describe("npm run testenv (test/env/main.ts)", () => {
  let dir: string;
  beforeAll(async () => {
    // Same switch as the shared plane: EDGE_ALARM_TESTENV=0 means no control planes at all.
    getTestEnv();
    dir = await mkdtemp(join(tmpdir(), "testenv-main-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the ready line, serves kubectl, and stops everything on SIGTERM", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    const main = spawn(process.execPath, [MAIN], {
      env: { ...process.env, EDGE_ALARM_TESTENV_KUBECONFIG: kubeconfig },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    main.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => main.on("exit", resolve));
    try {
      const readyLine = await new Promise<string>((resolve, reject) => {
        main.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
        void exited.then((code) => reject(new Error(`main.ts exited (${code}) before ready:\n${stderr}`)));
      });
      expect(readyLine).toMatch(new RegExp(`^testenv ready: KUBECONFIG=${kubeconfig} \\(apiserver https://127\\.0\\.0\\.1:\\d+\\)$`));

      const { stdout } = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "ns", "default", "-o", "name"]);
      expect(stdout.trim()).toBe("namespace/default");

      const servers = [...(await childrenOf(main.pid!))].filter(([, name]) => name === "kube-apiserver" || name === "etcd");
      expect(servers.map(([, name]) => name).sort()).toEqual(["etcd", "kube-apiserver"]);

      main.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(servers.filter(([pid]) => isRunning(pid))).toEqual([]);
      expect(existsSync(kubeconfig)).toBe(false);
    } finally {
      main.kill("SIGKILL");
    }
  });
});
