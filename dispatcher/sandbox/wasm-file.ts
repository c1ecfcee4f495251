/**
 * Finding and compiling QuickJS's .wasm. Kept apart from quickjs-module.ts so the host thread,
 * which only compiles the module and hands it to the worker, never loads quickjs-emscripten.
 */
import { readFile } from "node:fs/promises";

/** A compiled WebAssembly.Module (opaque here; it is structured-cloneable into workers). */
export type WasmModule = object & { readonly __compiledQuickJS?: never };

interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

/** tsconfig has no DOM lib, so the WebAssembly global is typed with just the members used here. */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export function newWasmMemory(initial: number, maximum: number): WasmMemory {
  return new wasmApi.Memory({ initial, maximum });
}

/** File name of the QuickJS wasm when the dispatcher runs as a bundle without node_modules. */
export const BUNDLED_WASM_FILE = "emscripten-module.wasm";

/** The variant package's wasm from node_modules; in a bundle without them, the file next to the bundle. */
export function defaultWasmUrl(): URL {
  try {
    return new URL(import.meta.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"));
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw e;
    return new URL(`./${BUNDLED_WASM_FILE}`, import.meta.url);
  }
}

export async function compileQuickJS(url: URL): Promise<WasmModule> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(url);
  } catch (e) {
    throw new Error(`cannot read the QuickJS wasm at ${url.href} (a bundled dispatcher needs ${BUNDLED_WASM_FILE} next to it): ${(e as Error).message}`, { cause: e });
  }
  return wasmApi.compile(bytes);
}

