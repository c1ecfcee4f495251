/**
 * @module The kube-apiserver and etcd versions test/env builds, read from the wrapper go.mod files
 * so that bumping a version there is the only edit needed (and it changes the cache key).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** test/env/go: holds the wrapper modules kube/ and etcd/. */
export const GO_MODULES_DIR = fileURLToPath(new URL("./go", import.meta.url));

export type BinaryVersions = {
  /** e.g. "v1.33.13" (k8s.io/kubernetes in go/kube/go.mod). */
  kube: string;
  /** e.g. "v3.5.21" (go.etcd.io/etcd/server/v3 in go/etcd/go.mod). */
  etcd: string;
  /** Cache directory name, e.g. "v1.33.13-etcd3.5.21". */
  key: string;
};

function requiredVersion(goModPath: string, modulePath: string): string {
  const text = readFileSync(goModPath, "utf8");
  const escaped = modulePath.replace(/[.]/g, "\\.");
  const match = new RegExp(`^\\s*${escaped}\\s+(v\\d+\\.\\d+\\.\\d+)\\b`, "m").exec(text);
  if (!match?.[1]) {
    throw new Error(`${goModPath} does not require ${modulePath} at a vX.Y.Z version`);
  }
  return match[1];
}

export function readBinaryVersions(modulesDir = GO_MODULES_DIR): BinaryVersions {
  const kube = requiredVersion(join(modulesDir, "kube", "go.mod"), "k8s.io/kubernetes");
  const etcd = requiredVersion(join(modulesDir, "etcd", "go.mod"), "go.etcd.io/etcd/server/v3");
  return { kube, etcd, key: `${kube}-etcd${etcd.slice(1)}` };
}
