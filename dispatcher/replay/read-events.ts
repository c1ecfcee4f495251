/**
 * Reads events for `replay` from every form people have at hand: `kubectl get events -o json`
 * lists, single events, NDJSON of events or of watch notifications ({type, object}),
 * events.k8s.io/v1 objects and lists, YAML (single or multi-document), and `kubectl cluster-info
 * dump` output (concatenated JSON documents, other kinds of list skipped). A malformed document
 * or item is reported with its file and line or item index; everything valid is still returned.
 */
import { parseAllDocuments } from "yaml";
import { looksLikeEvent } from "../../sdk/index.ts";

export type ItemType = "ADDED" | "MODIFIED" | "DELETED";

export interface InputItem {
  type: ItemType;
  object: Record<string, unknown>;
  /** `file:line` or `file:line item N`, for messages. */
  where: string;
}

export interface ReadResult {
  items: InputItem[];
  problems: string[];
}

interface Doc {
  value: unknown;
  line: number;
}

const WATCH_TYPES = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One JSON value per line (NDJSON): a bad line costs only itself. */
function ndjsonDocs(text: string, file: string, problems: string[]): Doc[] {
  const docs: Doc[] = [];
  text.split("\n").forEach((lineText, i) => {
    if (!lineText.trim()) return;
    try {
      docs.push({ value: JSON.parse(lineText), line: i + 1 });
    } catch (err) {
      problems.push(`${file}:${i + 1}: not valid JSON (${(err as Error).message}); line skipped`);
    }
  });
  return docs;
}

/** NDJSON when one of the first lines is a whole JSON object on its own (a pretty-printed document has none). */
function isNdjson(text: string): boolean {
  const lines = text.split("\n").filter((l) => l.trim());
  if (lines.length < 2) return false;
  return lines.slice(0, 3).some((l) => {
    try {
      const v: unknown = JSON.parse(l);
      return isObject(v);
    } catch {
      return false; // a fragment of a pretty-printed document, or a bad NDJSON line
    }
  });
}

/** A document starts with `{`, or `[` followed by what a JSON array can hold (log lines like `[INFO]` do not). */
function startsJson(text: string, i: number): boolean {
  return text[i] === "{" || (text[i] === "[" && /[\s{["\d\-\]]/.test(text[i + 1] ?? ""));
}

/** Split text holding one or more JSON documents, e.g. `kubectl cluster-info dump` output. */
function concatenatedJson(text: string, file: string, problems: string[]): Doc[] {
  const docs: Doc[] = [];
  let i = 0, line = 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    const startLine = line;
    if (!startsJson(text, i)) {
      // Text between documents, e.g. the container logs a cluster-info dump interleaves: skip the run of lines.
      let skipped = 0;
      while (i < text.length && !startsJson(text, i)) {
        const nl = text.indexOf("\n", i);
        i = nl === -1 ? text.length : nl + 1;
        line++;
        skipped++;
        while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\r")) i++;
      }
      problems.push(`${file}:${startLine}: ${skipped} line(s) of non-JSON text skipped`);
      continue;
    }
    let end = i, depth = 0, inString = false;
    for (; end < text.length; end++) {
      const ch = text[end]!;
      if (ch === "\n") line++;
      if (inString) {
        if (ch === "\\") end++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === "{" || ch === "[") depth++;
      else if (ch === "}" || ch === "]") {
        depth--;
        if (depth <= 0) { end++; break; }
      }
    }
    try {
      docs.push({ value: JSON.parse(text.slice(i, end)), line: startLine });
    } catch (err) {
      problems.push(`${file}:${startLine}: not valid JSON (${(err as Error).message}); document skipped`);
    }
    i = Math.max(end, i + 1);
  }
  return docs;
}

function yamlDocs(text: string, file: string, problems: string[]): Doc[] {
  const docs: Doc[] = [];
  const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
  for (const doc of parseAllDocuments(text)) {
    const line = lineOf(doc.range[0]);
    const error = doc.errors[0];
    if (error) {
      problems.push(`${file}:${error.linePos?.[0].line ?? line}: not valid YAML (${error.message.split("\n")[0]}); document skipped`);
      continue;
    }
    const value: unknown = doc.toJS();
    if (value != null) docs.push({ value, line });
  }
  return docs;
}

function collect(value: unknown, where: string, out: InputItem[], problems: string[], inEventList: boolean): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => collect(v, `${where} item ${i}`, out, problems, inEventList));
    return;
  }
  if (!isObject(value)) {
    problems.push(`${where}: expected an object, got ${value === null ? "null" : typeof value}; skipped`);
    return;
  }
  const items = value.items ?? value.Items;
  if (Array.isArray(items)) {
    const kind = typeof value.kind === "string" ? value.kind : "";
    // A cluster-info dump interleaves NodeList, PodList, …: only Event lists (or untyped lists) matter.
    if (kind && kind !== "List" && kind !== "EventList") return;
    items.forEach((v, i) => collect(v, `${where} item ${i}`, out, problems, true));
    return;
  }
  if (typeof value.type === "string" && WATCH_TYPES.has(value.type) && "object" in value) {
    if (value.type === "BOOKMARK") return;
    if (value.type === "ERROR") {
      problems.push(`${where}: watch ERROR notification skipped`);
      return;
    }
    if (!looksLikeEvent(value.object)) {
      problems.push(`${where}: watch notification whose object is not an Event; skipped`);
      return;
    }
    out.push({ type: value.type as ItemType, object: value.object as Record<string, unknown>, where });
    return;
  }
  if (looksLikeEvent(value)) {
    out.push({ type: "ADDED", object: value, where });
    return;
  }
  if (inEventList || value.kind === undefined) problems.push(`${where}: not a Kubernetes Event (no reason/type); skipped`);
}

/** Parse one file's text. `file` is only used in messages. */
export function readEvents(text: string, file: string): ReadResult {
  const problems: string[] = [];
  const items: InputItem[] = [];
  const trimmed = text.trimStart();
  if (!trimmed) return { items, problems: [`${file}: empty file`] };
  const docs = !(trimmed.startsWith("{") || trimmed.startsWith("["))
    ? yamlDocs(text, file, problems)
    : isNdjson(text)
      ? ndjsonDocs(text, file, problems)
      : concatenatedJson(text, file, problems);
  for (const doc of docs) collect(doc.value, `${file}:${doc.line}`, items, problems, false);
  if (!items.length && !problems.length) problems.push(`${file}: no Kubernetes Events found`);
  return { items, problems };
}
