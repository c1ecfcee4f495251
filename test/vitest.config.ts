import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    // One real kube-apiserver + etcd for the whole run (test/env); EDGE_ALARM_TESTENV=0 skips it.
    globalSetup: ["test/env/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
