import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, type CoreV1Event } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBinaries } from "./binaries.ts";
import { startControlPlane } from "./control-plane.ts";
import { childrenOf } from "./proc-info.ts";
import { getTestEnv, loadKubeConfig, restartApiServer } from "./use-testenv.ts";
import type { TestEnvInfo } from "./testenv-info.ts";

const run = promisify(execFile);

describe("the shared test control plane", () => {
  let env: TestEnvInfo;
  let core: CoreV1Api;
  const namespace = `testenv-${randomBytes(4).toString("hex")}`;
  const eventName = `probe.${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    env = getTestEnv();
    core = loadKubeConfig(env).makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  it("serves kubectl through the written kubeconfig", async () => {
    const { stdout } = await run("kubectl", ["--kubeconfig", env.kubeconfigPath, "get", "ns", "default", "-o", "jsonpath={.status.phase}"]);
    expect(stdout).toBe("Active");
  });

  it("stores an Event created through the API and lists it back", async () => {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { name: eventName, namespace },
      involvedObject: { kind: "Pod", namespace, name: "web-0", apiVersion: "v1" },
      reason: "BackOff",
      message: "Back-off restarting failed container",
      type: "Warning",
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: "kubelet" },
    };
    const created = await core.createNamespacedEvent({ namespace, body });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);

    const listed = await core.listNamespacedEvent({ namespace });
    const found = listed.items.find((item) => item.metadata?.name === eventName);
    expect(found?.reason).toBe("BackOff");
    expect(found?.type).toBe("Warning");
    expect(found?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
  });

  it("answers again after a kube-apiserver restart, with its data kept in etcd", async () => {
    const before = await run("kubectl", ["--kubeconfig", env.kubeconfigPath, "get", "--raw", "/version"]);
    await restartApiServer(env);
    const listed = await core.listNamespacedEvent({ namespace });
    expect(listed.items.map((item) => item.metadata?.name)).toContain(eventName);
    const after = await run("kubectl", ["--kubeconfig", env.kubeconfigPath, "get", "--raw", "/version"]);
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse(before.stdout));
  });
});

describe("startControlPlane when kube-apiserver cannot start", () => {
  it("rejects with the tail of its log and leaves no process or temp dir behind", async () => {
    getTestEnv(); // EDGE_ALARM_TESTENV=0 means no control planes, this one included
    const work = await mkdtemp(join(tmpdir(), "testenv-failure-test-"));
    try {
      // The real etcd, and an apiserver that fails the way a bad flag does.
      const binDir = join(work, "bin");
      await mkdir(binDir);
      await symlink(join(await ensureBinaries(), "etcd"), join(binDir, "etcd"));
      await writeFile(join(binDir, "kube-apiserver"), "#!/bin/sh\necho 'Error: unknown flag: --nonsense' >&2\nexit 1\n", { mode: 0o755 });
      const tempDirsBefore = (await readdir(tmpdir())).filter((name) => name.startsWith(`edge-alarm-testenv-${process.pid}-`));

      const failure = startControlPlane({ binDir, kubeconfigPath: join(work, "kubeconfig"), log: () => {} });
      await expect(failure).rejects.toThrow(/kube-apiserver exited \(code 1\) before it was ready[\s\S]*unknown flag: --nonsense/);

      const tempDirsAfter = (await readdir(tmpdir())).filter((name) => name.startsWith(`edge-alarm-testenv-${process.pid}-`));
      expect(tempDirsAfter).toEqual(tempDirsBefore);
      expect([...(await childrenOf(process.pid)).values()]).not.toContain("etcd");
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
