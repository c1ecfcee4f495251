import { hostname } from "node:os";
import { createLogger } from "../../dispatcher/log.ts";
import { createFeishuSink, feishuWebhookProblem } from "../../dispatcher/sinks/feishu.ts";
import { proxySettings } from "../../dispatcher/sinks/http-transport.ts";
import { card, div, fields, md, note, type FeishuCard } from "../../sdk/index.ts";
import { explainSendResult, formatExplanation } from "../dev/feishu-codes.ts";
import { UserError } from "../errors.ts";
import { parse, UsageError, type Command } from "./args.ts";

/** The test card: the cluster name in the title, so a keyword set to it passes (19024). */
export function testCard(cluster: string, signed: boolean, now: Date): FeishuCard {
  return card({
    title: `${cluster}: edge-alarm test message`,
    template: "blue",
    elements: [
      div(md`This card was sent by **edge-alarm send-test**. If you can read it, alarms from ${cluster} will reach this group.`),
      fields([md`**From:** ${hostname()}`, md`**Signed:** ${signed ? "yes" : "no"}`, { text: md`**Sent at:** ${now.toISOString()}`, long: true }]),
      note("No action needed."),
    ],
  });
}

export const sendTestCommand: Command = {
  name: "send-test",
  usage: `send-test         Send a test card to the bot in $EDGE_ALARM_FEISHU_WEBHOOK (signed with $EDGE_ALARM_FEISHU_SECRET)
                      and explain Feishu's answer
                      --cluster NAME    shown in the card title (default: $EDGE_ALARM_CLUSTER or "edge")`,
  async run(args) {
    const { values, positionals } = parse(args, { cluster: { type: "string" } });
    if (positionals.length) throw new UsageError("send-test takes no arguments: the webhook comes from EDGE_ALARM_FEISHU_WEBHOOK");
    const env = process.env;
    const webhook = env.EDGE_ALARM_FEISHU_WEBHOOK ?? "";
    if (!webhook) {
      throw new UserError("EDGE_ALARM_FEISHU_WEBHOOK is not set: export the bot's webhook URL (group settings → Bots → the custom bot), and EDGE_ALARM_FEISHU_SECRET if it signs");
    }
    const problem = feishuWebhookProblem(webhook);
    if (problem) throw new UserError(`EDGE_ALARM_FEISHU_WEBHOOK: ${problem}`);
    const secret = env.EDGE_ALARM_FEISHU_SECRET || undefined;
    const cluster = values.cluster ?? env.EDGE_ALARM_CLUSTER ?? "edge";
    // The sink's own log lines would repeat what is explained below.
    const logger = createLogger({ level: "error", destination: process.stderr });
    const sink = createFeishuSink({ webhook, ...(secret ? { secret } : {}), logger, proxy: proxySettings(env) });
    const now = new Date();
    let result;
    try {
      result = await sink.send({ msg_type: "interactive", card: testCard(cluster, secret !== undefined, now) }, { handler: "send-test" });
    } finally {
      await sink.close();
    }
    const explanation = formatExplanation(explainSendResult(result, { signed: secret !== undefined, now }));
    if (!result.ok) throw new UserError(`the test card was not delivered.\n${explanation}`);
    process.stderr.write(`${explanation}\n`);
  },
};
