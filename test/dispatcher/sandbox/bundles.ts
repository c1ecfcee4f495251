/**
 * Test helpers: handler bundles in the format the build produces (an esbuild IIFE assigning the
 * module namespace to HANDLER_GLOBAL), either bundled from a real handler file or written inline.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { HANDLER_GLOBAL } from "../../../dispatcher/sandbox/index.ts";
import { normalizeEvent, type KubeEvent } from "../../../sdk/index.ts";

const root = new URL("../../../", import.meta.url);

/** Bundle a handler file the way the build does (sdk inlined, IIFE, es2020). */
export async function bundleHandler(relativePath: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(relativePath, root))],
    bundle: true,
    write: false,
    format: "iife",
    globalName: HANDLER_GLOBAL,
    target: "es2020",
    platform: "neutral",
    alias: { "edge-alarm/sdk": fileURLToPath(new URL("sdk/index.ts", root)) },
    logLevel: "silent",
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${relativePath}`);
  return file.text;
}

/** A hand-written bundle whose default export is the object literal source `handlerSource`. */
export function inlineBundle(handlerSource: string, prelude = ""): string {
  return `${prelude}\nvar ${HANDLER_GLOBAL} = { default: (${handlerSource}) };\n`;
}

/** A real Warning event (AKS liveness probe failure) from the shared captures, normalized. */
export function warningEvent(): KubeEvent {
  const list = JSON.parse(readFileSync("/work/shared/data/events/epicapex-k8s-arena/kube-system/events.json", "utf8")) as { items: unknown[] };
  const raw = list.items.find((e) => (e as { type?: string }).type === "Warning");
  if (!raw) throw new Error("no Warning event in the epicapex capture");
  return normalizeEvent(raw);
}

export const CTX = { cluster: "edge-test", timezone: "Asia/Shanghai", now: "2026-01-02T03:04:05Z" };
