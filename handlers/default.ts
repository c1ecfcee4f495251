/**
 * Default alarm: every Warning event, as the card sites get today from kubernetes-event-exporter
 * (red header "<cluster> alarm"; EventType, EventKind, EventReason, EventTime, EventMessage),
 * plus the object, how often and since when it happened, the node, and a fingerprint that tells
 * a resent duplicate from a new alarm. Normal events never alarm.
 */
import { card, defineHandler, div, fields, fingerprint, md, note, type KubeEvent } from "edge-alarm/sdk";

function nodeOf(event: KubeEvent): string {
  if (event.involvedObject.kind === "Node") return event.involvedObject.name;
  return event.source.host;
}

export default defineHandler({
  match: { type: "Warning" },
  handle(event, ctx) {
    const obj = event.involvedObject;
    // Cluster-scoped objects (nodes) have their events in "default"; that is not their namespace.
    const namespace = obj.namespace || (obj.kind === "Node" ? "" : event.metadata.namespace);
    const when = ctx.formatTime(event.lastTimestamp);
    return {
      card: card({
        title: `${ctx.cluster} alarm`,
        template: "red",
        elements: [
          div(
            md`**EventType:** ${event.type}
**EventKind:** ${obj.kind}
**EventReason:** ${event.reason}
**EventTime:** ${when}
**EventMessage:** ${event.message}`,
          ),
          fields([
            md`**Object:** ${namespace ? `${namespace}/${obj.name}` : obj.name}`,
            md`**Node:** ${nodeOf(event) || "-"}`,
            md`**Count:** ${event.count}`,
            md`**First seen:** ${ctx.formatTime(event.firstTimestamp)}`,
          ]),
          note(`edge-alarm · ${ctx.timezone} · fingerprint ${fingerprint(ctx.cluster, event)}`),
        ],
      }),
    };
  },
});
