import { describe, expect, it } from "vitest";
import {
  bundleKey,
  handlerNameProblem,
  parseHandlersConfigMap,
  sha256Hex,
  type HandlersManifest,
} from "../../dispatcher/handlers-configmap.ts";

const A = "var __edgeAlarmHandler = { default: { handle() { return null; } } };\n";
const B = "var __edgeAlarmHandler = { default: { handle() { return undefined; } } };\n";

function manifestFor(bundles: Record<string, string>): HandlersManifest {
  return {
    sdkVersion: "1",
    builtAt: "2026-11-20T06:00:00.000Z",
    handlers: Object.entries(bundles).map(([name, code]) => ({
      name,
      key: bundleKey(name),
      sha256: sha256Hex(code),
      bytes: Buffer.byteLength(code),
    })),
  };
}

function configMap(data: Record<string, unknown>): unknown {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "edge-alarm-handlers" }, data };
}

describe("parseHandlersConfigMap", () => {
  it("reads every *.js key as a handler when there is no manifest", () => {
    const parsed = parseHandlersConfigMap(configMap({ "b.js": B, "a.js": A, "README.md": "notes" }));
    expect(parsed.manifest).toBeUndefined();
    expect(parsed.problems).toEqual([]);
    expect(parsed.bundles).toEqual([
      { name: "a", code: A, sha256: sha256Hex(A) },
      { name: "b", code: B, sha256: sha256Hex(B) },
    ]);
  });

  it("keeps only listed bundles whose hash matches, and says why for the others", () => {
    const manifest = manifestFor({ a: A, b: B, gone: A });
    const parsed = parseHandlersConfigMap(
      configMap({ "a.js": A, "b.js": `${B}// edited\n`, "extra.js": A, "manifest.json": JSON.stringify(manifest) }),
    );
    expect(parsed.manifest).toEqual(manifest);
    expect(parsed.bundles.map((b) => b.name)).toEqual(["a"]);
    expect(parsed.problems).toEqual([
      expect.stringMatching(/^b\.js: sha256 [0-9a-f]{64} does not match the manifest/),
      'manifest.json lists "gone" but data has no usable key gone.js',
      "extra.js is not listed in manifest.json; skipped",
    ]);
  });

  it("falls back to the *.js keys when manifest.json is broken, and reports it", () => {
    for (const broken of ["{not json", JSON.stringify({ sdkVersion: 1, handlers: "a" })]) {
      const parsed = parseHandlersConfigMap(configMap({ "a.js": A, "manifest.json": broken }));
      expect(parsed.manifest).toBeUndefined();
      expect(parsed.bundles.map((b) => b.name)).toEqual(["a"]);
      expect(parsed.problems).toHaveLength(1);
      expect(parsed.problems[0]).toMatch(/^manifest\.json (is not JSON|does not have the shape)/);
    }
  });

  it("skips keys that are not handler names or not strings", () => {
    const parsed = parseHandlersConfigMap(configMap({ "Bad_Name.js": A, "n.js": 42, "ok.js": A }));
    expect(parsed.bundles.map((b) => b.name)).toEqual(["ok"]);
    expect(parsed.problems).toEqual([
      expect.stringContaining('data key Bad_Name.js: handler name "Bad_Name" must be lowercase'),
      "data key n.js is not a string; skipped",
    ]);
  });

  it("reports input that is not a handlers ConfigMap", () => {
    expect(parseHandlersConfigMap("text").problems).toEqual(["not a ConfigMap object"]);
    expect(parseHandlersConfigMap({ kind: "Secret", data: {} }).problems).toEqual(["kind is Secret, expected ConfigMap"]);
    expect(parseHandlersConfigMap({ kind: "ConfigMap" }).problems).toEqual(["the ConfigMap has no data"]);
  });
});

describe("handlerNameProblem", () => {
  it("accepts DNS labels and rejects everything else", () => {
    for (const good of ["default", "disk-pressure", "a", "node2", "a".repeat(63)]) {
      expect(handlerNameProblem(good)).toBeUndefined();
    }
    for (const bad of ["Default", "disk_pressure", "-a", "a-", "a.b", "", "a".repeat(64), "ünicode"]) {
      expect(handlerNameProblem(bad)).toBeTypeOf("string");
    }
  });
});
