import path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { bundleHandlers, type Bundle } from "../../build/bundle.ts";
import {
  ANNOTATIONS_LIMIT,
  buildConfigMap,
  CONFIGMAP_DATA_LIMIT,
  checkConfigMapSize,
  configMapDataBytes,
  handlersConfigMap,
  renderConfigMap,
} from "../../build/configmap.ts";
import { UserError } from "../../build/errors.ts";
import { parseHandlersConfigMap, sha256Hex } from "../../dispatcher/handlers-configmap.ts";
import { SDK_VERSION } from "../../sdk/index.ts";
import { handlerDir } from "./temp-dir.ts";

const BUILT_AT = new Date("2026-11-20T06:00:00Z");

/** A bundle as bundleHandlers would describe it; for size arithmetic without running esbuild. */
function bundleOf(name: string, code: string): Bundle {
  return { name, file: `handlers/${name}.ts`, code, sha256: sha256Hex(code), bytes: Buffer.byteLength(code) };
}

function bigHandler(chars: number, marker: string): string {
  return `const TABLE = "${marker}${"x".repeat(chars)}";
export default { handle: (e: { reason: string }) => (TABLE.includes(e.reason) ? null : null) };
`;
}

describe("renderConfigMap", () => {
  it("renders a ConfigMap that parses back to the same bundles and manifest", async () => {
    const dir = await handlerDir({
      "zeta.ts": `export default { handle: () => null };\n`,
      "alpha.ts": `import { defineHandler } from "edge-alarm/sdk";\nexport default defineHandler({ handle: () => undefined });\n`,
    });
    const bundles = [...(await bundleHandlers(dir)), ...(await bundleHandlers("handlers"))];
    const text = renderConfigMap(bundles, { sdkVersion: "7", buildTime: BUILT_AT, namespace: "edge" });
    const obj = YAML.parse(text) as Record<string, unknown>;

    expect(obj).toMatchObject({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "edge-alarm-handlers",
        namespace: "edge",
        labels: { "app.kubernetes.io/name": "edge-alarm", "app.kubernetes.io/component": "handlers" },
      },
    });
    // Sorted keys, each bundle a block literal (readable JavaScript, not an escaped string).
    expect(Object.keys(obj.data as object)).toEqual(["alpha.js", "default.js", "zeta.js", "manifest.json"]);
    expect(text).toContain("  default.js: |\n    var __edgeAlarmHandler = (() => {\n");

    const parsed = parseHandlersConfigMap(obj);
    expect(parsed.problems).toEqual([]);
    const byName = [...bundles].sort((a, b) => a.name.localeCompare(b.name));
    expect(parsed.bundles).toEqual(byName.map((b) => ({ name: b.name, code: b.code, sha256: b.sha256 })));
    expect(parsed.manifest).toEqual({
      sdkVersion: "7",
      builtAt: "2026-11-20T06:00:00.000Z",
      handlers: byName.map((b) => ({ name: b.name, key: `${b.name}.js`, sha256: b.sha256, bytes: b.bytes })),
    });
  });

  it("lets the reader detect a bundle edited after the build", async () => {
    const bundles = await bundleHandlers("handlers");
    const obj = YAML.parse(renderConfigMap(bundles, { sdkVersion: "1", buildTime: BUILT_AT })) as {
      data: Record<string, string>;
    };
    obj.data["default.js"] = obj.data["default.js"]?.replace('template: "red"', 'template: "green"') ?? "";
    const parsed = parseHandlersConfigMap(obj);
    expect(parsed.bundles).toEqual([]);
    expect(parsed.problems).toHaveLength(1);
    expect(parsed.problems[0]).toMatch(/^default\.js: sha256 [0-9a-f]{64} does not match the manifest/);
  });

  it("uses the defaults and the name given", () => {
    const obj = YAML.parse(renderConfigMap([bundleOf("a", "var x;\n")], { sdkVersion: "1", name: "site-handlers" }));
    expect(obj.metadata.name).toBe("site-handlers");
    expect(obj.metadata.namespace).toBe("monitoring");
    const builtAt = Date.parse(JSON.parse(obj.data["manifest.json"]).builtAt);
    expect(Math.abs(Date.now() - builtAt)).toBeLessThan(60_000);
  });
});

describe("buildConfigMap", () => {
  it("bundles, validates and renders handlers/ into a ConfigMap the dispatcher can read", async () => {
    const built = await buildConfigMap("handlers", { buildTime: BUILT_AT });
    expect(built.warnings).toEqual([]);
    expect(built.bundles.map((b) => b.name)).toEqual(["default"]);
    const parsed = parseHandlersConfigMap(YAML.parse(built.yaml));
    expect(parsed.problems).toEqual([]);
    expect(parsed.manifest?.sdkVersion).toBe(SDK_VERSION);
    expect(parsed.bundles).toEqual(built.bundles.map((b) => ({ name: b.name, code: b.code, sha256: b.sha256 })));
  });
});

describe("checkConfigMapSize", () => {
  it("fails the build clearly when a large handler pushes the ConfigMap over 1 MiB", async () => {
    const dir = await handlerDir({
      "huge.ts": bigHandler(1_100_000, "HUGE"),
      "small.ts": `export default { handle: () => null };\n`,
    });
    const err = await buildConfigMap(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    // The same bundles, to know the sizes the message must state.
    const bundles = await bundleHandlers(dir);
    const total = configMapDataBytes(handlersConfigMap(bundles, { sdkVersion: SDK_VERSION }));
    expect(total).toBeGreaterThan(CONFIGMAP_DATA_LIMIT);
    expect(message).toContain(`would hold ${total.toLocaleString("en-US")} bytes`);
    expect(message).toContain("at most 1,048,576 bytes (1024.0 KiB)");
    const huge = bundles.find((b) => b.name === "huge");
    expect(message).toContain(`${path.join(dir, "huge.ts")}: ${huge?.bytes.toLocaleString("en-US")} bytes`);
    // The largest handler is listed first.
    expect(message.indexOf("huge.ts")).toBeLessThan(message.indexOf("small.ts"));
  });

  it("counts every data key and value in UTF-8 bytes, allowing exactly the limit", () => {
    const sized = (codeBytes: number) =>
      handlersConfigMap([bundleOf("a", `${"é".repeat(10)}${"x".repeat(codeBytes - 20)}`)], {
        sdkVersion: "1",
        buildTime: BUILT_AT,
      });
    const probe = 1_000_000;
    const fits = probe + (CONFIGMAP_DATA_LIMIT - configMapDataBytes(sized(probe)));
    const exact = sized(fits);
    const data = exact.data;
    const independent = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    expect(configMapDataBytes(exact)).toBe(independent);
    expect(independent).toBe(CONFIGMAP_DATA_LIMIT);
    expect(() => checkConfigMapSize(exact, [])).not.toThrow();
    expect(() => checkConfigMapSize(sized(fits + 1), [])).toThrow(UserError);
  });

  it("warns when client-side kubectl apply would refuse the ConfigMap", () => {
    const small = handlersConfigMap([bundleOf("a", "var x = 1;\n")], { sdkVersion: "1" });
    expect(checkConfigMapSize(small, [])).toEqual([]);
    const medium = handlersConfigMap([bundleOf("a", "y".repeat(ANNOTATIONS_LIMIT))], { sdkVersion: "1" });
    const warnings = checkConfigMapSize(medium, []);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("kubectl apply --server-side");
  });
});
