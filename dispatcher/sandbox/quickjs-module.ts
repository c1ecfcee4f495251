/**
 * One QuickJS WebAssembly instance per handler, with its own capped WebAssembly.Memory, so one
 * handler's out-of-memory cannot touch another. The compiled WebAssembly.Module is shared (it is
 * also what crosses into a recreated worker, so the wasm is compiled once per process).
 *
 * This is the one file that reaches into quickjs-emscripten internals (the Emscripten module
 * behind a QuickJSWASMModule), to close a memory-safety gap: Emscripten's `_malloc` returns 0 when
 * the capped memory is full, and quickjs-emscripten's `newString` then writes the string at
 * address 0, silently corrupting the heap (measured: a 5,000-char newString after a guest OOM
 * "succeeded" and the next evaluation returned garbage).
 */
import releaseSyncImport from "@jitl/quickjs-wasmfile-release-sync";
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSSyncVariant, type QuickJSWASMModule } from "quickjs-emscripten-core";
import { MIN_MEMORY_PAGES, WASM_PAGE_BYTES } from "./options.ts";
import { newWasmMemory, type WasmModule } from "./wasm-file.ts";

export { BUNDLED_WASM_FILE } from "./wasm-file.ts";

// Node loads the package's ESM build (default export = the variant); its .d.ts is CJS-shaped, so
// TypeScript sees the namespace instead. Accept both.
const imported = releaseSyncImport as unknown as QuickJSSyncVariant | { default: QuickJSSyncVariant };
const releaseSync: QuickJSSyncVariant = "importFFI" in imported ? imported : imported.default;

/** Thrown (host-side) when a host allocation inside a handler's wasm memory fails. */
export class GuestHeapExhausted extends Error {
  constructor(bytes: number) {
    super(`out of memory: the handler's WebAssembly memory cannot fit ${bytes} more bytes`);
    this.name = "GuestHeapExhausted";
  }
}

interface EmscriptenHeap {
  _malloc(size: number): number;
  _free(ptr: number): void;
}

/** Keep this much free in the heap between calls, so the host's own small allocations always fit. */
const HEADROOM_BYTES = 1024 * 1024;

export interface QuickJSInstance {
  module: QuickJSWASMModule;
  /** True when less than HEADROOM_BYTES can be allocated: the handler holds nearly all its memory. */
  isNearlyFull(): boolean;
  /**
   * True when the wasm memory has grown to within HEADROOM_BYTES of its maximum (a likely cause of
   * a failure). Emscripten grows in 5-20% steps, so it often stops short of the exact maximum.
   */
  nearMaximum(): boolean;
}

export async function instantiateQuickJS(wasmModule: WasmModule, memoryPages: number): Promise<QuickJSInstance> {
  const maximum = Math.max(MIN_MEMORY_PAGES, memoryPages);
  const memory = newWasmMemory(MIN_MEMORY_PAGES, maximum);
  const module = await newQuickJSWASMModuleFromVariant(newVariant(releaseSync, { wasmModule, wasmMemory: memory }));
  const heap = emscriptenHeap(module);
  const rawMalloc = heap._malloc.bind(heap);
  heap._malloc = (size: number) => {
    const ptr = rawMalloc(size);
    if (ptr === 0 && size > 0) throw new GuestHeapExhausted(size);
    return ptr;
  };
  const maxBytes = maximum * WASM_PAGE_BYTES;
  const nearMaximum = () => memory.buffer.byteLength + HEADROOM_BYTES >= maxBytes;
  return {
    module,
    nearMaximum,
    isNearlyFull() {
      // Memory only grows when the allocator needs it; below this line a probe is unnecessary.
      if (!nearMaximum()) return false;
      const probe = rawMalloc(HEADROOM_BYTES);
      if (probe === 0) return true;
      heap._free(probe);
      return false;
    },
  };
}

function emscriptenHeap(module: QuickJSWASMModule): EmscriptenHeap {
  // `module` is a protected field of QuickJSWASMModule (0.32); check its shape so a library
  // upgrade that moves it fails loudly here instead of silently losing the guard.
  const inner = (module as unknown as { module?: Partial<EmscriptenHeap> }).module;
  if (!inner || typeof inner._malloc !== "function" || typeof inner._free !== "function") {
    throw new Error("quickjs-emscripten internals changed: QuickJSWASMModule.module._malloc not found (sandbox/quickjs-module.ts)");
  }
  return inner as EmscriptenHeap;
}
