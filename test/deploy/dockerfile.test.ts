/**
 * There is no Docker engine on the test machines, so the image is checked statically here and
 * its payload dynamically in bundle.test.ts (the bundle started outside the repo, without
 * node_modules). These checks keep the Dockerfile and deploy/ from drifting apart.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { BUNDLE_FILES } from "../../build/bundle-dispatcher.ts";
import { REPO_ROOT } from "../shared-data.ts";
import { deploymentNodeFlags } from "./bundled-process.ts";

const dockerfile = readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8");
/** Instructions with continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const args = Object.fromEntries(instructions.filter((l) => /^ARG /.test(l)).map((l) => l.slice(4).split("=") as [string, string]));
const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? `\${${name}}`);
const froms = instructions.filter((l) => /^FROM /.test(l)).map((l) => expand(l));
const entrypoint = JSON.parse(instructions.find((l) => l.startsWith("ENTRYPOINT "))?.slice("ENTRYPOINT ".length) ?? "[]") as string[];

const deployment = parse(readFileSync(path.join(REPO_ROOT, "deploy/deployment.yaml"), "utf8")) as {
  spec: { template: { spec: { securityContext: { runAsUser: number }; containers: Array<{ command: string[]; args: string[]; ports: Array<{ containerPort: number }> }> } } };
};
const pod = deployment.spec.template.spec;
const container = pod.containers[0];

describe("Dockerfile", () => {
  it("is multi-stage with a node:24-alpine runtime, bundling on the build machine's platform", () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.at(-1)).toBe("FROM node:24-alpine");
    expect(froms[0]).toMatch(/^FROM --platform=\$BUILDPLATFORM node:24-alpine AS \w+/);
    expect(dockerfile).toContain("docker buildx build --platform linux/amd64,linux/arm64");
  });

  it("copies only sources that exist and are not excluded from the build context", () => {
    const ignored = readFileSync(path.join(REPO_ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const sources = instructions.filter((l) => /^COPY /.test(l) && !l.includes("--from=")).flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(existsSync(path.join(REPO_ROOT, src)), src).toBe(true);
      expect(ignored, `${src} is excluded by .dockerignore`).not.toContain(src.replace(/\/$/, ""));
    }
    expect(instructions.some((l) => l.includes("build/bundle-dispatcher.ts"))).toBe(true);
  });

  it("starts the bundle's entry with the Deployment's Node flags, as the Deployment's user", () => {
    expect(entrypoint[0]).toBe("node");
    expect(entrypoint.at(-1)).toBe(`/app/${BUNDLE_FILES.main}`);
    expect(entrypoint.filter((a) => a.startsWith("--"))).toEqual(deploymentNodeFlags());
    expect(container?.command.at(-1)).toBe(`/app/${BUNDLE_FILES.main}`);
    expect(container?.args).toEqual(["run"]);
    const user = instructions.find((l) => l.startsWith("USER "))?.slice(5);
    expect(user).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsUser}`);
    expect(instructions).toContain(`EXPOSE ${container?.ports[0]?.containerPort}`);
  });
});
