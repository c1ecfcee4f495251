/**
 * Child process for the kill -9 test: runs a real outbox (Feishu sink, spool in the given state
 * dir) against a webhook whose link is down, enqueues alarms as fast as the spool takes them and
 * prints "acked <i>" once each is durable, until it is killed.
 * Usage: node spool-child.ts <stateDir> <webhook> <secret>
 */
import { createLogger } from "../../../dispatcher/log.ts";
import { createOutbox } from "../../../dispatcher/outbox/outbox.ts";
import { createFeishuSink } from "../../../dispatcher/sinks/feishu.ts";
import { makeDelivery } from "./helpers.ts";

const [stateDir, webhook, secret] = process.argv.slice(2);
if (stateDir === undefined || webhook === undefined || secret === undefined) {
  process.stderr.write("usage: spool-child.ts <stateDir> <webhook> <secret>\n");
  process.exit(2);
}
const logger = createLogger({ level: "warn", destination: process.stderr });
const sink = createFeishuSink({ webhook, secret, logger, timeoutMs: 1000 });
const outbox = await createOutbox({ stateDir, sinks: new Map([["default", sink]]), logger });
outbox.start();
for (let i = 0; ; i++) {
  await outbox.enqueue(makeDelivery(i));
  process.stdout.write(`acked ${i}\n`);
}
