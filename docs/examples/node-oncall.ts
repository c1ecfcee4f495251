/**
 * Node failures mention the on-call engineer; every other Warning is a card without a mention,
 * so phones ring only when a Pi is down, not for each crash-looping pod.
 * Receives: the default channel.
 */
import { at, card, defineHandler, div, md, note, type KubeEvent } from "edge-alarm/sdk";

/** The on-call engineer's Feishu open_id (custom bots can mention by open_id only). */
const ON_CALL = "ou_7d8a6e6df7621556ce0d21922b676706";

const NODE_FAILURES = new Set(["NodeNotReady", "Rebooted", "NodeHasDiskPressure", "NodeHasMemoryPressure", "SystemOOM", "KubeletSetupFailed"]);

function isNodeFailure(event: KubeEvent): boolean {
  return event.involvedObject.kind === "Node" && NODE_FAILURES.has(event.reason);
}

export default defineHandler({
  match: { type: "Warning" },
  handle(event, ctx) {
    if (isNodeFailure(event)) {
      return {
        card: card({
          title: `${ctx.cluster}: node ${event.involvedObject.name} ${event.reason}`,
          template: "red",
          // at() is the only way to a live mention: event text in md is always escaped.
          elements: [div(md`${at(ON_CALL)} node **${event.involvedObject.name}**: ${event.message}`), note(ctx.formatTime(event.lastTimestamp, "zoned"))],
        }),
      };
    }
    return {
      card: card({
        title: `${ctx.cluster}: ${event.reason}`,
        template: "orange",
        elements: [div(md`**${event.involvedObject.kind}** ${event.involvedObject.name}\n${event.message}`)],
      }),
    };
  },
});
