/**
 * @module QuickJS stack traces mapped back to the handler's TypeScript. A frame reads
 * `    at handle (default.js:37:32)`: the bundle's name, a 1-based line and column. Node's
 * SourceMap finds the .ts position the bundle's source map records for it. The glue's own
 * frames are dropped: they are the sandbox, not the handler.
 */
import { SourceMap } from "node:module";
import { displayPath } from "../hints.ts";

export interface MappableBundle {
  code: string;
  /** Source map JSON; sources absolute. */
  map: string;
}

const FRAME = /^(\s*at\s+)(?:(.*?)\s+\()?([^\s()]+\.js):(\d+)(?::(\d+))?\)?\s*$/;
const GLUE_FILE = "edge-alarm-glue.js";

/** Map each frame of `stack` whose file is a known bundle (`<name>.js`); leave other lines as they are. */
export function mapStack(stack: string, bundles: ReadonlyMap<string, MappableBundle>): string {
  const maps = new Map<string, { map: SourceMap; lines: string[] }>();
  const lookup = (name: string) => {
    let m = maps.get(name);
    const bundle = bundles.get(name);
    if (!m && bundle) {
      m = { map: new SourceMap(JSON.parse(bundle.map) as ConstructorParameters<typeof SourceMap>[0]), lines: bundle.code.split("\n") };
      maps.set(name, m);
    }
    return m;
  };
  const out: string[] = [];
  for (const line of stack.split("\n")) {
    const frame = FRAME.exec(line);
    if (!frame) {
      out.push(line);
      continue;
    }
    const [, lead = "    at ", fn, file = "", lineText = "0", colText] = frame;
    if (file === GLUE_FILE) continue;
    const mapping = lookup(file.replace(/\.js$/, ""));
    if (!mapping) {
      out.push(line);
      continue;
    }
    const row = Number(lineText) - 1;
    // Without a column, take the line's first token: column 0 may belong to the previous mapping.
    const col = colText === undefined ? Math.max(0, (mapping.lines[row] ?? "").search(/\S/)) : Number(colText) - 1;
    const entry = mapping.map.findEntry(row, col) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
    if (entry.originalSource === undefined || entry.originalLine === undefined) {
      out.push(line);
      continue;
    }
    const where = `${displayPath(entry.originalSource.replace(/^file:\/\//, ""))}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`;
    out.push(fn ? `${lead}${fn} (${where})` : `${lead}${where}`);
  }
  return out.join("\n");
}
