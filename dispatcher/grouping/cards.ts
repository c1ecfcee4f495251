/**
 * Cards the dispatcher builds for grouped notifications. A group's notification is the
 * handler's latest card plus a section naming the objects that are new or changed since the
 * last notice, with counts. A digest combines many groups in blocks of one reason and message.
 * Everything stays within the 20,000-byte body budget: what does not fit moves to follow-up
 * cards, never into "and N more".
 */
import { escapeMd, type CardElement, type FeishuCard, type Text } from "../../sdk/index.ts";
import { BODY_LIMIT_BYTES, SIGNATURE_RESERVE_BYTES } from "../pipeline/feishu-body.ts";
import { formatTime } from "../time-format.ts";
import type { GroupState, MemberState } from "./state.ts";

export type GroupNoticeKind = "first" | "update" | "repeat";

export interface GroupNotice {
  /** The group as it is before this notice is applied. */
  group: GroupState;
  kind: GroupNoticeKind;
}

export interface CardContext {
  cluster: string;
  timezone: string;
  /** Clock time of the notice (ms). */
  at: number;
  /** Body budget in bytes; default the Feishu limit less the signature reserve. */
  budget?: number;
}

export function noticeKind(g: GroupState): GroupNoticeKind {
  return g.lastNotifiedAt === undefined ? "first" : g.unnamed > 0 ? "update" : "repeat";
}

const MESSAGE_SHOWN = 240;
const LINE_CHARS = 1_500;
const bytes = (s: string): number => Buffer.byteLength(s, "utf8");
const jsonBytes = (s: string): number => bytes(JSON.stringify(s));
const plain = (content: string): Text => ({ tag: "plain_text", content });
const larkMd = (content: string): Text => ({ tag: "lark_md", content });

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function isWorkloadGroup(g: GroupState): boolean {
  return g.key.startsWith("workload\u0000");
}

/** Members a notice must name: never named, or counted up since. Sorted for stable cards. */
function listed(g: GroupState): MemberState[] {
  return Object.values(g.members)
    .filter((m) => m.notified === 0 || m.count > m.notified)
    .sort((a, b) => a.reason.localeCompare(b.reason) || a.kind.localeCompare(b.kind) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

function entry(g: GroupState, m: MemberState, counts: boolean): string {
  const ns = !isWorkloadGroup(g) && m.namespace ? `${m.namespace}/` : "";
  const kind = m.kind === "Pod" ? "" : `${m.kind} `;
  const delta = m.notified > 0 ? ` (+${m.count - m.notified})` : "";
  return `${kind}${ns}${m.name}${counts ? ` ×${m.count}${delta}` : ""}`;
}

/**
 * Lines naming `members` with their counts, at most LINE_CHARS each: `<head>: a ×3, b ×1`, or
 * `<head>, ×1 each: a, b` when every one happened once (a storm's usual case, and a third shorter).
 */
function memberEntryLines(g: GroupState, head: string, members: MemberState[]): string[] {
  const once = members.every((m) => m.count === 1 && m.notified === 0);
  const entries = members.map((m) => entry(g, m, !once));
  const lines: string[] = [];
  let line = `${head}${once && members.length > 1 ? ", ×1 each" : ""}: `;
  let count = 0;
  for (const e of entries) {
    if (count > 0 && line.length + e.length + 2 > LINE_CHARS) {
      lines.push(line);
      line = `${head} (more): `;
      count = 0;
    }
    line += (count > 0 ? ", " : "") + e;
    count++;
  }
  if (count > 0) lines.push(line);
  if (once && members.length === 1) lines[lines.length - 1] += " ×1";
  return lines;
}

function totals(g: GroupState): { objects: number; count: number; first: string } {
  let count = 0;
  let first = "";
  const members = Object.values(g.members);
  for (const m of members) {
    count += m.count;
    if (!first || m.first < first) first = m.first;
  }
  return { objects: members.length, count: count + g.overflow, first };
}

/** A heading, an optional quoted message and lines of plain text: the unit cards are packed from. */
interface Block {
  heading: string;
  quote?: string;
  lines: string[];
}

function blockElements(b: Block, lines: string[], continued: boolean): CardElement[] {
  const els: CardElement[] = [{ tag: "div", text: larkMd(continued ? `${b.heading} (continued)` : b.heading) }];
  if (b.quote && !continued) els.push({ tag: "div", text: plain(b.quote) });
  if (lines.length) els.push({ tag: "div", text: plain(lines.join("\n")) });
  return els;
}

const bodyBytes = (card: FeishuCard): number => bytes(JSON.stringify({ msg_type: "interactive", card }));

/**
 * Pack blocks into as few cards as the budget allows. `first` holds the elements the first card
 * starts with (the handler's card); `make` wraps elements into a card with its part number,
 * called again once the number of parts is known.
 */
function pack(blocks: Block[], first: CardElement[], make: (els: CardElement[], part: number, parts: number) => FeishuCard, budget: number): FeishuCard[] {
  const parts: CardElement[][] = [];
  let current: CardElement[] = [...first];
  // Part numbers are filled in at the end; measure with the widest they can be.
  const size = (els: CardElement[]) => bodyBytes(make(els, parts.length + 1, 99));
  const flush = () => {
    parts.push(current);
    current = [];
  };
  for (const b of blocks) {
    let continued = false;
    let rest = b.lines;
    for (;;) {
      // Lines go into one plain_text content: an empty one is measured, then each line costs its
      // JSON bytes, plus the escaped "\n" (2 bytes) between lines.
      let used = size([...current, ...blockElements(b, rest.length ? [""] : [], continued)]);
      let n = 0;
      while (n < rest.length) {
        const cost = jsonBytes(rest[n]!) - 2 + (n > 0 ? 2 : 0);
        if (used + cost > budget) break;
        used += cost;
        n++;
      }
      if (n === rest.length && used <= budget) {
        current.push(...blockElements(b, rest, continued));
        break;
      }
      if (n === 0 && current.length === 0) {
        // Only with a budget far below Feishu's: cut the first line, and when nothing is left to
        // cut, let buildFeishuBody truncate the card.
        const line = rest[0];
        if (line === undefined || line.length <= 1) {
          current.push(...blockElements(b, rest, continued));
          break;
        }
        rest = [shorten(line, Math.floor(line.length / 2)), ...rest.slice(1)];
        continue;
      }
      if (n > 0) {
        current.push(...blockElements(b, rest.slice(0, n), continued));
        rest = rest.slice(n);
        continued = true;
      }
      flush();
    }
  }
  if (current.length || parts.length === 0) flush();
  return parts.map((els, i) => make(els, i + 1, parts.length));
}

function headerSuffix(kind: GroupNoticeKind, t: { objects: number; count: number }): string {
  const sizes = `×${t.count}${t.objects > 1 ? ` · ${t.objects} objects` : ""}`;
  if (kind === "first") return t.count > 1 || t.objects > 1 ? sizes : "";
  return `${kind === "update" ? "update" : "still happening"} · ${sizes}`;
}

function withTitleSuffix(card: FeishuCard, suffix: string): FeishuCard {
  if (!suffix || !card.header) return card;
  const title = card.header.title;
  const content = title.tag === "lark_md" ? `${title.content} · ${escapeMd(suffix)}` : `${title.content} · ${suffix}`;
  return { ...card, header: { ...card.header, title: { ...title, content } } };
}

/** The lines that name a group's new and changed members, by reason. */
function memberLines(g: GroupState, prefix: (reason: string) => string): string[] {
  const byReason = new Map<string, MemberState[]>();
  for (const m of listed(g)) {
    const list = byReason.get(m.reason);
    if (list) list.push(m);
    else byReason.set(m.reason, [m]);
  }
  const lines: string[] = [];
  for (const [reason, members] of byReason) {
    lines.push(...memberEntryLines(g, prefix(reason), members));
  }
  return lines;
}

function quietLine(g: GroupState): string | undefined {
  const quiet = Object.values(g.members).filter((m) => m.notified > 0 && m.count === m.notified);
  const overflow = g.overflow ? `; ${g.overflow} more occurrences on objects beyond the per-group bound of members` : "";
  if (!quiet.length) return overflow ? overflow.slice(2) : undefined;
  return `unchanged: ${quiet.length} named before, ×${quiet.reduce((n, m) => n + m.count, 0)}${overflow}`;
}

/**
 * The cards of one group's notification, then follow-ups if the objects do not fit. A first
 * notice and a repeat are the handler's latest card with the group section (a repeat re-notifies
 * like the first time: mentions and buttons included). An update only adds objects to a group
 * notified minutes ago, so it is a compact card of the dispatcher's: the handler's title, the
 * latest message and the new objects.
 */
export function groupNoticeCards(n: GroupNotice, ctx: CardContext): FeishuCard[] {
  const g = n.group;
  const t = totals(g);
  const time = (iso: string) => formatTime(iso, ctx.timezone);
  const at = new Date(ctx.at).toISOString();
  const handlerCard = withTitleSuffix(structuredClone(g.card), headerSuffix(n.kind, t));
  const title = { first: "Grouped", update: "Update: new objects", repeat: "Still happening" }[n.kind];
  const since = g.lastNotifiedAt === undefined ? "" : ` · +${g.changed} since the notice at ${time(new Date(g.lastNotifiedAt).toISOString())}`;
  const lines = [`×${t.count} on ${t.objects} object${t.objects > 1 ? "s" : ""} since ${time(t.first)}${since}`, ...memberLines(g, (r) => r)];
  const quiet = quietLine(g);
  if (quiet) lines.push(quiet);
  const compact = n.kind === "update";
  const latest = listed(g).reduce<MemberState | undefined>((a, b) => (!a || b.last > a.last ? b : a), undefined);
  const block: Block = {
    heading: `**${title}** · ${escapeMd(g.label)}`,
    ...(compact && latest ? { quote: quoteOf(latest) } : {}),
    lines,
  };
  const footer = (part: number, parts: number): CardElement => ({
    tag: "note",
    elements: [plain(`edge-alarm · group ${g.id} · fingerprint ${g.fingerprint} · notice ${g.notices + 1}${parts > 1 ? ` · part ${part}/${parts}` : ""} · ${time(at)}`)],
  });
  const header = (part: number) =>
    part === 1 || !handlerCard.header
      ? handlerCard.header
      : { title: plain(`${ctx.cluster} alarm · ${g.label} (continued)`), template: handlerCard.header.template ?? "red" };
  const budget = ctx.budget ?? BODY_LIMIT_BYTES - SIGNATURE_RESERVE_BYTES;
  return pack([block], compact ? [] : [...handlerCard.elements, { tag: "hr" }], (els, part, parts) => {
    const h = header(part);
    return part === 1 && !compact
      ? { ...handlerCard, elements: [...els, footer(part, parts)] }
      : { config: handlerCard.config ?? { wide_screen_mode: true }, ...(h ? { header: h } : {}), elements: [...els, footer(part, parts)] };
  }, budget);
}

/** Cut the middle of a long message: error chains put the cause last ("…: dial tcp …: i/o timeout"). */
function elide(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.floor(max * 0.4);
  return `${text.slice(0, head)} … ${text.slice(text.length - (max - head - 3))}`;
}

/** The latest message in quotes, and the most detailed one when that says more. */
function quoteOf(m: MemberState): string {
  const latest = `“${elide(m.message, MESSAGE_SHOWN)}”`;
  return m.detail && m.detail !== m.message ? `${latest}\nearlier: “${elide(m.detail, MESSAGE_SHOWN)}”` : latest;
}

function shortLabel(g: GroupState, reason: string): string {
  const suffix = ` · ${reason}`;
  return g.label.endsWith(suffix) ? g.label.slice(0, -suffix.length) : g.label;
}

/** One digest for many groups: blocks of (reason, message), one line per group naming its objects. */
export function digestCards(notices: GroupNotice[], ctx: CardContext): FeishuCard[] {
  const blocks = new Map<string, { reason: string; message: string; count: number; objects: number; groups: Set<string>; lines: string[] }>();
  let objects = 0;
  for (const { group: g, kind } of [...notices].sort((a, b) => a.group.label.localeCompare(b.group.label))) {
    const byReason = new Map<string, MemberState[]>();
    for (const m of listed(g)) {
      const list = byReason.get(m.reason);
      if (list) list.push(m);
      else byReason.set(m.reason, [m]);
    }
    objects += Object.keys(g.members).length;
    let quiet = quietLine(g);
    for (const [reason, members] of byReason) {
      const latest = members.reduce((a, b) => (b.last > a.last ? b : a));
      const message = quoteOf(latest);
      const key = `${reason}\u0000${message}`;
      let b = blocks.get(key);
      if (!b) blocks.set(key, (b = { reason, message, count: 0, objects: 0, groups: new Set(), lines: [] }));
      const tag = kind === "first" ? "new" : kind === "update" ? `+${members.filter((m) => m.notified === 0).length} new` : "ongoing";
      b.count += members.reduce((n, m) => n + m.count, 0);
      b.objects += members.length;
      b.groups.add(g.id);
      const lines = memberEntryLines(g, `${shortLabel(g, reason)} [${g.id}] ${tag}`, members);
      // Objects named before and quiet since are summed up once, on the group's first line.
      if (quiet) lines[lines.length - 1] += ` · ${quiet}`;
      quiet = undefined;
      b.lines.push(...lines);
    }
  }
  const list: Block[] = [...blocks.values()]
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
    .map((b) => ({
      heading: `**${escapeMd(b.reason)}** · ×${b.count} · ${b.objects} object${b.objects > 1 ? "s" : ""} · ${b.groups.size} group${b.groups.size > 1 ? "s" : ""}`,
      quote: b.message,
      lines: b.lines,
    }));
  const at = formatTime(new Date(ctx.at).toISOString(), ctx.timezone);
  const budget = ctx.budget ?? BODY_LIMIT_BYTES - SIGNATURE_RESERVE_BYTES;
  return pack(list, [], (els, part, parts) => ({
    config: { wide_screen_mode: true, enable_forward: true },
    header: {
      title: plain(`${ctx.cluster} alarm digest · ${notices.length} groups · ${objects} objects${parts > 1 ? ` · ${part}/${parts}` : ""}`),
      template: "red",
    },
    elements: [...els, { tag: "note", elements: [plain(`edge-alarm digest · ${at} · [group fingerprint]`)] }],
  }), budget);
}
