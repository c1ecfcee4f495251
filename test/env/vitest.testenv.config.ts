// The main test config plus the shared control plane, for running test/env's own tests (and any
// cluster test) before test/vitest.config.ts has the globalSetup line.
import { defineConfig, mergeConfig } from "vitest/config";
import base from "../vitest.config.ts";

export default mergeConfig(base, defineConfig({ test: { globalSetup: ["test/env/global-setup.ts"] } }));
