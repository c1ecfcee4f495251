/**
 * @module Finds kube-apiserver and etcd for test/env: from KUBEBUILDER_ASSETS (the envtest
 * convention), else from a per-version cache dir, building missing ones with the machine's Go from
 * the wrapper modules in test/env/go (release downloads are not possible on the test machines).
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { acquireFileLock } from "./file-lock.ts";
import { formatBytes, formatDuration, stderrLog, type Log } from "./log.ts";
import { GO_MODULES_DIR, readBinaryVersions, type BinaryVersions } from "./versions.ts";

export const BINARY_NAMES = ["kube-apiserver", "etcd"] as const;
export type BinaryName = (typeof BINARY_NAMES)[number];

const HEARTBEAT_MS = 30_000;

/** `${XDG_CACHE_HOME:-~/.cache}/edge-alarm/kube-bins/<key>`: outside the repo, one dir per version pair. */
export function binaryCacheDir(versions: BinaryVersions = readBinaryVersions()): string {
  const cacheHome = process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache");
  return join(cacheHome, "edge-alarm", "kube-bins", versions.key);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    // Missing or not executable both mean "not usable here"; the caller builds or reports.
    return false;
  }
}

async function missingIn(dir: string): Promise<BinaryName[]> {
  const missing: BinaryName[] = [];
  for (const name of BINARY_NAMES) {
    if (!(await isExecutable(join(dir, name)))) missing.push(name);
  }
  return missing;
}

type BuildRecipe = { moduleDir: string; pkg: string; ldflags: string };

function recipeFor(name: BinaryName, versions: BinaryVersions): BuildRecipe {
  if (name === "etcd") {
    // etcd's version string is a source constant: no -X flags needed.
    return { moduleDir: join(GO_MODULES_DIR, "etcd"), pkg: "go.etcd.io/etcd/server/v3", ldflags: "-s -w" };
  }
  const [major, minor] = versions.kube.slice(1).split(".");
  const v = versions.kube;
  // Without these, /version reports gitVersion "v0.0.0-master+$Format:%H$", which confuses kubectl
  // and any client that parses it as semver.
  const ldflags = [
    "-s -w",
    `-X k8s.io/component-base/version.gitVersion=${v}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    "-X k8s.io/component-base/version.gitTreeState=clean",
    `-X k8s.io/component-base/version.buildDate=${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${v}`,
    `-X k8s.io/client-go/pkg/version.gitMajor=${major}`,
    `-X k8s.io/client-go/pkg/version.gitMinor=${minor}`,
  ].join(" ");
  return { moduleDir: join(GO_MODULES_DIR, "kube"), pkg: "k8s.io/kubernetes/cmd/kube-apiserver", ldflags };
}

/** Runs `go build` into `output`, printing a heartbeat with progress while it runs. */
function goBuild(name: BinaryName, recipe: BuildRecipe, output: string, log: Log): Promise<void> {
  const args = ["build", "-v", "-trimpath", "-buildvcs=false", "-ldflags", recipe.ldflags, "-o", output, recipe.pkg];
  const started = Date.now();
  let packages = 0;
  let downloads = 0;
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, {
      cwd: recipe.moduleDir,
      // GOTOOLCHAIN=local: never try to download a toolchain; CGO off: static binaries, as upstream.
      env: { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0" },
      stdio: ["ignore", "inherit", "pipe"],
    });
    const heartbeat = setInterval(() => {
      const what = downloads > 0 ? `${downloads} modules downloaded, ` : "";
      log(`building ${name}: ${formatDuration(Date.now() - started)}, ${what}${packages} packages compiled`);
    }, HEARTBEAT_MS);
    let pending = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        // -v prints one package path per line; anything else (downloads, errors) is worth keeping.
        if (line.startsWith("go: downloading ")) downloads++;
        else if (/^[\w.~-]+(\/[\w.~-]+)*$/.test(line)) packages++;
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearInterval(heartbeat);
      reject(
        error.code === "ENOENT"
          ? new Error("`go` is not on PATH: install Go >= 1.24, or set KUBEBUILDER_ASSETS to a dir holding kube-apiserver and etcd")
          : error,
      );
    });
    child.on("close", (code, signal) => {
      clearInterval(heartbeat);
      if (pending) tail.push(pending);
      if (code === 0) {
        resolve();
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new Error(`go build of ${name} (in ${recipe.moduleDir}) ${how}; last output:\n${tail.join("\n")}`));
    });
  });
}

async function buildInto(dir: string, name: BinaryName, versions: BinaryVersions, log: Log): Promise<void> {
  const target = join(dir, name);
  // Build under a temp name and rename: an interrupted build never leaves a half-written binary.
  const temp = join(dir, `.${name}.${process.pid}.tmp`);
  const started = Date.now();
  log(`building ${name} ${name === "etcd" ? versions.etcd : versions.kube} with Go into ${dir} (minutes when Go's caches are cold)`);
  try {
    await goBuild(name, recipeFor(name, versions), temp, log);
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
  const size = (await stat(target)).size;
  log(`built ${name} in ${formatDuration(Date.now() - started)} (${formatBytes(size)})`);
}

/** Returns a dir holding executable `kube-apiserver` and `etcd`, building them if needed. */
export async function ensureBinaries(log: Log = stderrLog): Promise<string> {
  const assets = process.env["KUBEBUILDER_ASSETS"];
  if (assets) {
    const missing = await missingIn(assets);
    if (missing.length === 0) return assets;
    log(`KUBEBUILDER_ASSETS=${assets} lacks ${missing.join(", ")}; using the test/env build cache instead`);
  }
  const versions = readBinaryVersions();
  const dir = binaryCacheDir(versions);
  if ((await missingIn(dir)).length === 0) return dir;

  await mkdir(dir, { recursive: true });
  const lock = await acquireFileLock(join(dir, ".build.lock"), (owner) =>
    log(`waiting for another build of the test/env binaries${owner ? ` (pid ${owner})` : ""} to finish`),
  );
  try {
    // Checked again under the lock: whoever held it may have built them meanwhile.
    for (const name of await missingIn(dir)) await buildInto(dir, name, versions, log);
  } finally {
    await lock.release();
  }
  return dir;
}
