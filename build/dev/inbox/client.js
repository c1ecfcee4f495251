// The card inbox page: receives entries over server-sent events and draws them. Card content is
// untrusted (event text), so every string reaches the page as a DOM text node or a checked href;
// this file never assigns HTML. Bundled by esbuild with card-view.ts and lark-md.ts at start-up.
import { cardView } from "./card-view.ts";

const seen = new Set();
const list = document.getElementById("entries");

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** lark_md nodes (see lark-md.ts) as DOM. */
function md(nodes) {
  const out = document.createDocumentFragment();
  for (const n of nodes) {
    if (n.t === "text") out.append(document.createTextNode(n.text));
    else if (n.t === "br") out.append(document.createElement("br"));
    else if (n.t === "at") out.append(el("span", "at", n.who === "all" ? "@all" : `@${n.who}`));
    else if (n.t === "a") {
      const a = el("a", "", md(n.children));
      a.setAttribute("href", n.href);
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer");
      out.append(a);
    } else if (n.t === "font") out.append(el("span", `font-${n.color}`, md(n.children)));
    else out.append(el(n.t === "b" ? "strong" : n.t === "i" ? "em" : "del", "", md(n.children)));
  }
  return out;
}

function block(b) {
  switch (b.t) {
    case "text":
      return el("div", "md", md(b.content));
    case "fields":
      return el("div", "fields", ...b.fields.map((f) => el("div", `field md ${f.short ? "short" : "long"}`, md(f.content))));
    case "hr":
      return document.createElement("hr");
    case "note":
      return el("div", "note", ...b.parts.flatMap((p, i) => (i ? [" ", md(p)] : [md(p)])));
    case "actions":
      return el(
        "div",
        "actions",
        ...b.buttons.map((btn) => {
          const a = el("a", `button ${btn.type}${btn.href ? "" : " dead"}`, md(btn.label));
          if (btn.href) {
            a.setAttribute("href", btn.href);
            a.setAttribute("target", "_blank");
            a.setAttribute("rel", "noopener noreferrer");
          } else a.setAttribute("title", "Feishu would refuse this URL (http and https only)");
          return a;
        }),
      );
    default:
      return el("div", "unsupported", `[${b.tag}: not drawn by the inbox]`);
  }
}

function card(data) {
  const view = cardView(data);
  const box = el("div", "card");
  if (view.header) {
    const header = el("div", "card-header", md(view.header.title));
    header.style.background = view.header.background;
    header.style.color = view.header.foreground;
    header.dataset.template = view.header.template;
    box.append(header);
  }
  box.append(el("div", "card-body", ...view.blocks.map(block)));
  return box;
}

function json(title, value) {
  if (value === null || value === undefined) return null;
  return el("details", "", el("summary", "", title), el("pre", "", JSON.stringify(value, null, 2)));
}

function logs(entry) {
  if (!entry.logs || entry.logs.length === 0) return null;
  return json(`console (${entry.logs.length})`, entry.logs.map((l) => `${l.level}: ${l.message}`));
}

function when(entry) {
  return new Date(entry.at).toLocaleTimeString();
}

function eventLabel(event) {
  if (!event) return "";
  const o = event.involvedObject || {};
  return ` · ${event.type} ${event.reason} on ${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`;
}

function render(entry) {
  const box = el("section", `entry ${entry.kind}`);
  const append = (...children) => box.append(...children.filter((c) => c !== null && c !== undefined));
  box.dataset.entry = entry.kind;
  box.dataset.id = String(entry.id);
  if (entry.kind === "card") {
    const delivery = entry.delivery
      ? el("span", `delivery ${entry.delivery.ok ? "ok" : "failed"}`, ` · Feishu: ${entry.delivery.summary}`)
      : null;
    append(
      el("div", "meta", `${when(entry)} · ${entry.handler} → ${entry.channel} · ${entry.bytes} B${entry.truncated ? " · truncated" : ""}${eventLabel(entry.event)}`, delivery),
      card(entry.card),
      json("event", entry.event),
      logs(entry),
    );
  } else if (entry.kind === "error") {
    append(
      el(
        "div",
        "error",
        el("h3", "", `${when(entry)} · handler ${entry.handler} failed (${entry.failure})${eventLabel(entry.event)}`),
        el("pre", "message", entry.message),
        entry.stack ? el("pre", "stack", entry.stack) : null,
        json("event", entry.event),
        logs(entry),
      ),
    );
  } else if (entry.kind === "build" && entry.ok) {
    append(el("div", "build", `${when(entry)} · built ${entry.handlers.join(", ")} in ${entry.ms} ms`));
  } else if (entry.kind === "build") {
    append(el("div", "build-error", el("h3", "", `${when(entry)} · build failed: the previous handlers keep running`), el("pre", "", entry.message)));
  } else {
    append(el("div", "build", `${when(entry)} · ${entry.message}`));
  }
  return box;
}

function add(entry) {
  if (seen.has(entry.id)) return;
  seen.add(entry.id);
  list.prepend(render(entry));
  document.getElementById("empty").hidden = true;
}

function status(s) {
  document.getElementById("source").textContent = s.source;
  document.getElementById("counts").textContent = `${s.events} events · ${s.alarms} cards · ${s.errors} errors · handlers: ${s.handlers.join(", ") || "none"}`;
}

const stream = new EventSource("/api/stream");
stream.addEventListener("entry", (e) => add(JSON.parse(e.data)));
stream.addEventListener("status", (e) => status(JSON.parse(e.data)));
stream.addEventListener("open", () => document.getElementById("live").classList.add("on"));
stream.addEventListener("error", () => document.getElementById("live").classList.remove("on"));
