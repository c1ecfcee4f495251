import { describe, expect, it } from "vitest";
import { createRecordingSink } from "../../../dispatcher/sinks/recording.ts";
import type { SendResult } from "../../../dispatcher/sinks/sink.ts";
import { contractCard, describeSinkContract } from "./sink-contract.ts";

describeSinkContract("recording", async () => {
  const sink = createRecordingSink();
  return { sink, delivered: () => sink.delivered().length };
});

describe("recording sink", () => {
  it("keeps a copy of every body with its meta and time, in order", async () => {
    let t = 1000;
    const sink = createRecordingSink({ clock: () => t });
    const card = structuredClone(contractCard) as { msg_type: string; card: { header: { template: string } } };
    await sink.send(card, { fingerprint: "a" });
    card.card.header.template = "red"; // a caller mutating its object after the send
    t = 2000;
    await sink.send({ msg_type: "text", content: { text: "second" } }, { eventUid: "u2" });
    expect(sink.sent.map((s) => [s.at, s.meta, s.body.msg_type])).toEqual([
      [1000, { fingerprint: "a" }, "interactive"],
      [2000, { eventUid: "u2" }, "text"],
    ]);
    expect(sink.sent[0]?.body).toEqual(contractCard);
  });

  it("answers as told, and lists only delivered bodies as delivered", async () => {
    const rateLimited: SendResult = { ok: false, code: 11232, msg: "frequency limited", retryable: true, httpStatus: 200 };
    const sink = createRecordingSink({ respond: (_b, _m, i) => (i === 0 ? rateLimited : { ok: true, code: 0 }) });
    expect(await sink.send(contractCard, {})).toEqual(rateLimited);
    expect(await sink.send(contractCard, {})).toEqual({ ok: true, code: 0 });
    expect(sink.sent).toHaveLength(2);
    expect(sink.delivered()).toHaveLength(1);
    sink.clear();
    expect(sink.sent).toEqual([]);
  });
});
