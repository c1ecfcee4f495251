/**
 * Warning events go to the group that owns the namespace: payments to the payments on-call
 * group, the IoT namespaces to the IoT operators, everything else to the default group.
 * Receives: channels "payments-oncall" and "iot-ops" (EDGE_ALARM_CHANNEL_PAYMENTS_ONCALL_URL,
 * EDGE_ALARM_CHANNEL_IOT_OPS_URL on the dispatcher), else the default channel.
 */
import { card, defineHandler, div, fields, md } from "edge-alarm/sdk";

/** Namespace → channel name. An unknown channel name falls back to "default", with a warning. */
const OWNERS: Record<string, string> = {
  payments: "payments-oncall",
  iot: "iot-ops",
  "iot-gateway": "iot-ops",
};

export default defineHandler({
  match: { type: "Warning" },
  handle(event, ctx) {
    const namespace = event.involvedObject.namespace || event.metadata.namespace;
    const channel = OWNERS[namespace];
    return {
      card: card({
        title: `${ctx.cluster} · ${namespace || "cluster"}: ${event.reason}`,
        template: channel === "payments-oncall" ? "red" : "orange",
        elements: [
          div(event.message),
          fields([md`**Object:** ${event.involvedObject.kind}/${event.involvedObject.name}`, md`**Count:** ${event.count}`]),
        ],
      }),
      // No channel: the default one.
      ...(channel ? { channel } : {}),
    };
  },
});
