// The main test config plus the shared control plane, for running test/env's own tests (and any
// cluster test) with a config that lacks the globalSetup line. Once test/vitest.config.ts has it,
// this adds nothing (mergeConfig would concatenate the arrays and start a second plane).
import { defineConfig, mergeConfig } from "vitest/config";
import base from "../vitest.config.ts";

const GLOBAL_SETUP = "test/env/global-setup.ts";
const existing = base.test?.globalSetup;
const hasIt = Array.isArray(existing) ? existing.includes(GLOBAL_SETUP) : existing === GLOBAL_SETUP;

export default hasIt ? base : mergeConfig(base, defineConfig({ test: { globalSetup: [GLOBAL_SETUP] } }));
