import { describe, expect, it } from "vitest";
import { BUNDLED_WASM_FILE, compileQuickJS, defaultWasmUrl } from "../../../dispatcher/sandbox/wasm-file.ts";

describe("wasm-file", () => {
  it("finds the variant's wasm in node_modules when running from source", () => {
    expect(defaultWasmUrl().pathname).toMatch(/@jitl\/quickjs-wasmfile-release-sync\/dist\/emscripten-module\.wasm$/);
  });

  it("explains a missing wasm file and where a bundle expects it", async () => {
    const missing = new URL("file:///nonexistent/dir/emscripten-module.wasm");
    await expect(compileQuickJS(missing)).rejects.toThrow(new RegExp(`cannot read the QuickJS wasm at file:///nonexistent.*${BUNDLED_WASM_FILE} next to it`));
  });
});
