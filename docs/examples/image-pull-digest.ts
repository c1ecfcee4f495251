/**
 * Image pull failures as one digest per namespace instead of a card per pod: a registry outage
 * or a bad tag fails every pod of a rollout at once. Other events are left to other handlers.
 * Receives: the default channel.
 */
import { card, defineHandler, div, fields, md, note, type KubeEvent } from "edge-alarm/sdk";

/** What the kubelet reports while pulling fails: Failed / ErrImagePull, then BackOff / ImagePullBackOff. */
function pulledImage(event: KubeEvent): string | undefined {
  const m = /(?:pull(?:ing)? image|image) "([^"]+)"/i.exec(event.message);
  return m && /pull/i.test(event.message) ? m[1] : undefined;
}

export default defineHandler({
  match: { type: "Warning", reason: ["Failed", "ErrImagePull", "ImagePullBackOff", "BackOff"] },
  // Collect a rollout's failures for a minute before the first card; then at most one card
  // every 15 minutes while more pods join, and a reminder every 2 hours while it goes on.
  grouping: { wait: "1m", interval: "15m", repeat: "2h" },
  handle(event, ctx) {
    const image = pulledImage(event);
    if (image === undefined) return null;
    const namespace = event.involvedObject.namespace || event.metadata.namespace;
    return {
      // One group per namespace: every failing pod and image there joins this one alarm.
      group: `image-pull/${namespace}`,
      card: card({
        title: `${ctx.cluster}: images cannot be pulled in ${namespace}`,
        template: "yellow",
        elements: [
          fields([md`**Image:** ${image}`, md`**Pod:** ${event.involvedObject.name}`]),
          div(event.message),
          note("Check the registry, the tag and the node's network; the dispatcher adds the other pods below."),
        ],
      }),
    };
  },
});
