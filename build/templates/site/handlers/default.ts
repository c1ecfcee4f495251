/**
 * This site's alarm: every Warning event becomes a red card in the Feishu group. Edit it, then
 *   npm run check   type-check against the edge-alarm sdk
 *   npm run dev     rebuild on save, preview cards at http://127.0.0.1:8787
 *   npm run build   the handlers ConfigMap, for kubectl apply
 * The API, escaping rules and worked examples are in edge-alarm's docs/handlers.md.
 */
import { card, defineHandler, div, fields, md, note } from "edge-alarm/sdk";

export default defineHandler({
  // Checked before the sandbox is entered, so Normal events cost nothing.
  match: { type: "Warning" },
  handle(event, ctx) {
    const obj = event.involvedObject;
    const where = obj.namespace ? `${obj.namespace}/${obj.name}` : obj.name;
    return {
      card: card({
        // Plain strings are plain_text: event data in them can never become markup.
        title: `${ctx.cluster}: ${event.reason}`,
        template: "red",
        elements: [
          // md escapes every interpolated value; only the literal parts are Markdown.
          div(md`**${obj.kind}** ${where}\n${event.message}`),
          fields([md`**Count:** ${event.count}`, md`**Last seen:** ${ctx.formatTime(event.lastTimestamp)}`]),
          note(`${event.source.component || "unknown source"} · ${ctx.timezone}`),
        ],
      }),
    };
  },
});
