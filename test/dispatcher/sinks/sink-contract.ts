/**
 * What every Sink promises, whatever it sends to. Each sink's test file runs this suite against
 * its own sink; the sink-specific behaviour is tested beside it.
 */
import { describe, expect, it } from "vitest";
import type { FeishuBody, Sink } from "../../../dispatcher/sinks/sink.ts";

export interface SinkUnderTest {
  sink: Sink;
  /** How many messages actually reached the destination so far. */
  delivered(): number;
}

export const contractCard: FeishuBody = {
  msg_type: "interactive",
  card: {
    header: { title: { tag: "plain_text", content: "edge-alarm contract" }, template: "orange" },
    elements: [{ tag: "div", text: { tag: "plain_text", content: "BackOff: pod iot/reader-0 restarting" } }],
  },
};

export function describeSinkContract(label: string, make: () => Promise<SinkUnderTest>): void {
  describe(`Sink contract: ${label}`, () => {
    it("has a name, delivers a card and answers ok", async () => {
      const { sink, delivered } = await make();
      expect(sink.name).toMatch(/\S/);
      const before = delivered();
      expect(await sink.send(contractCard, { fingerprint: "fp-1", handler: "default", eventUid: "uid-1" })).toEqual({ ok: true, code: 0 });
      expect(delivered()).toBe(before + 1);
      await sink.close();
    });

    it("accepts empty meta", async () => {
      const { sink } = await make();
      expect((await sink.send(contractCard, {})).ok).toBe(true);
      await sink.close();
    });

    it("after close, answers with a retryable failure and delivers nothing", async () => {
      const { sink, delivered } = await make();
      await sink.close();
      const before = delivered();
      const result = await sink.send(contractCard, {});
      expect(result).toMatchObject({ ok: false, retryable: true });
      expect(delivered()).toBe(before);
    });
  });
}
