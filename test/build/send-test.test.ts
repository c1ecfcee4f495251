import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFeishuDouble, type FeishuDouble } from "../feishu-double/double.ts";
import { explainSendResult } from "../../build/dev/feishu-codes.ts";
import { runCli } from "./dev/run-cli.ts";

const SECRET = "s3cr3t-signing-key";
const TOKEN = "0a1b2c3d-token-keep-private";

describe("edge-alarm send-test against the Feishu double", () => {
  let double: FeishuDouble;
  const saved = { ...process.env };

  beforeAll(async () => {
    double = await startFeishuDouble({
      bots: { [TOKEN]: { secret: SECRET }, keywords: { keywords: ["prod-cluster"] }, open: {} },
    });
  });
  afterEach(async () => {
    for (const k of ["EDGE_ALARM_FEISHU_WEBHOOK", "EDGE_ALARM_FEISHU_SECRET", "EDGE_ALARM_CLUSTER"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await double.clearFaults();
  });
  afterAll(async () => {
    await double?.close();
  });

  async function sendTest(webhook: string, secret?: string, args: string[] = []) {
    process.env.EDGE_ALARM_FEISHU_WEBHOOK = webhook;
    if (secret === undefined) delete process.env.EDGE_ALARM_FEISHU_SECRET;
    else process.env.EDGE_ALARM_FEISHU_SECRET = secret;
    const run = await runCli(["send-test", ...args]);
    // Whatever happens, the credentials never reach the terminal.
    expect(run.stderr).not.toContain(TOKEN);
    expect(run.stderr).not.toContain(SECRET);
    return run;
  }

  it("delivers a signed test card and says so", async () => {
    const run = await sendTest(double.url(TOKEN), SECRET, ["--cluster", "pi-farm"]);
    expect(run).toMatchObject({ code: 0, stderr: expect.stringContaining("Feishu accepted the message (code 0)") });
    const [accepted] = double.accepted(TOKEN);
    expect(JSON.stringify(accepted?.body)).toContain("pi-farm: edge-alarm test message");
  });

  it("explains 19021 as the secret or the clock", async () => {
    const wrong = await sendTest(double.url(TOKEN), "not-the-secret");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/rejected the signature \(19021\)[\s\S]*Check EDGE_ALARM_FEISHU_SECRET[\s\S]*Check this machine's clock: it reads \d{4}-\d\d-\d\dT/);
    const unsigned = await sendTest(double.url(TOKEN));
    expect(unsigned.stderr).toMatch(/“Signature verification” on, but EDGE_ALARM_FEISHU_SECRET is not set/);
  });

  it("explains 19024 as keywords, and passes when the title carries one", async () => {
    const missing = await sendTest(double.url("keywords"), undefined, ["--cluster", "edge"]);
    expect(missing.stderr).toMatch(/none of the bot's custom keywords \(19024\)[\s\S]*Put a keyword in the card title/);
    const ok = await sendTest(double.url("keywords"), undefined, ["--cluster", "prod-cluster"]);
    expect(ok.code).toBe(0);
  });

  it("explains 19001 as a wrong or deleted bot", async () => {
    const run = await sendTest(double.url("deleted-bot"));
    expect(run.stderr).toMatch(/does not know this webhook \(19001[\s\S]*copy its webhook URL again/);
  });

  it("explains rate limits and unreachable hosts", async () => {
    const minute = new Date().getUTCMinutes();
    await double.fault({ kind: "rate-limit-at-minutes", minutes: [minute, (minute + 1) % 60] }, "open");
    const limited = await sendTest(double.url("open"));
    expect(limited.stderr).toMatch(/rate-limiting this bot \(11232\)/);
    await double.clearFaults();
    const closed = await sendTest("http://127.0.0.1:9/open-apis/bot/v2/hook/abc");
    expect(closed.stderr).toMatch(/did not get a Feishu answer: connection refused[\s\S]*reach open\.feishu\.cn/);
  });

  it("refuses to run without a usable webhook", async () => {
    delete process.env.EDGE_ALARM_FEISHU_WEBHOOK;
    expect((await runCli(["send-test"])).stderr).toMatch(/EDGE_ALARM_FEISHU_WEBHOOK is not set/);
    expect((await sendTest("https://open.feishu.cn/open-apis/bot/hook/legacy")).stderr).toMatch(/obsolete v1 path/);
  });
});

describe("explainSendResult", () => {
  const explain = (code: number, msg = "") => explainSendResult({ ok: false, code, msg, retryable: false }, { signed: true }).summary;

  it("tells the two 9499 answers apart and knows the other documented codes", () => {
    expect(explain(9499, "too many request")).toMatch(/rate-limiting/);
    expect(explain(9499, "Bad Request")).toMatch(/could not read the request/);
    expect(explain(19022)).toMatch(/IP allow-list/);
    expect(explain(19036)).toMatch(/too large/);
    expect(explain(11235)).toMatch(/mention everyone/);
    expect(explain(424242, "strange")).toBe("Feishu answered code 424242: strange.");
  });

  it("warns that a lost answer may still have delivered the card", () => {
    const e = explainSendResult({ ok: false, code: null, msg: "no answer within 10000 ms", retryable: true, maybeDelivered: true }, { signed: false });
    expect(e.advice.join("\n")).toMatch(/may have arrived anyway/);
  });
});
