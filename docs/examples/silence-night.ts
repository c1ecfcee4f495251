/**
 * Every Warning event as a card, except from the `lab` namespace at night (22:00 to 07:00 in the
 * site's timezone): the lab's experiments fail at night and nobody acts on them before morning.
 * Receives: the default channel.
 */
import { card, defineHandler, div, md } from "edge-alarm/sdk";

const QUIET_NAMESPACE = "lab";
const QUIET_FROM_HOUR = 22;
const QUIET_UNTIL_HOUR = 7;

/** The local hour of an RFC 3339 time; formatTime does the timezone work (QuickJS has no Intl). */
function localHour(formatTime: (iso: string, style: "time") => string, iso: string): number {
  return Number(formatTime(iso, "time").slice(0, 2));
}

export default defineHandler({
  match: { type: "Warning" },
  handle(event, ctx) {
    const namespace = event.involvedObject.namespace || event.metadata.namespace;
    // ctx.now is when the dispatcher handles the event (the replay clock in `edge-alarm replay`).
    const hour = localHour(ctx.formatTime, ctx.now);
    if (namespace === QUIET_NAMESPACE && (hour >= QUIET_FROM_HOUR || hour < QUIET_UNTIL_HOUR)) return null;
    return {
      card: card({
        title: `${ctx.cluster}: ${event.reason}`,
        template: "orange",
        elements: [div(md`**${namespace}/${event.involvedObject.name}**\n${event.message}`)],
      }),
    };
  },
});
