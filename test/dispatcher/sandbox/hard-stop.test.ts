import { describe, expect, it } from "vitest";
import { HardTimeout, hardStop } from "../../../dispatcher/sandbox/hard-stop.ts";

describe("hardStop", () => {
  const within = hardStop(200);

  it("returns what the function returns, and passes its errors through", () => {
    expect(within(() => ({ answer: 42 }))).toEqual({ answer: 42 });
    expect(() => within(() => { throw new TypeError("handler bug"); })).toThrow(TypeError);
  });

  it("terminates a function that runs past the limit, and the thread goes on", () => {
    const started = performance.now();
    let caught: unknown;
    try {
      within(() => {
        for (;;) {
          // Spins until terminated.
        }
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HardTimeout);
    expect((caught as HardTimeout).limitMs).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(within(() => "still usable")).toBe("still usable");
  });
});
