/**
 * A strict reader of the Prometheus text exposition format 0.0.4 (prometheus/docs
 * "Exposition formats"), for tests: it throws on anything a Prometheus server would refuse or
 * that the format leaves undefined (a sample before its TYPE, a family split in two, a duplicate
 * series, a bad escape, a counter that is negative).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export class ExpositionError extends Error {}

function parseValue(raw: string, line: number): number {
  if (raw === "+Inf" || raw === "Inf") return Infinity;
  if (raw === "-Inf") return -Infinity;
  if (raw === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new ExpositionError(`line ${line}: ${JSON.stringify(raw)} is not a sample value`);
  return Number(raw);
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new ExpositionError(`line ${line}: invalid escape \\${c} in HELP`);
  });
}

/** Parse `{a="x",b="y"}` at the start of `rest`; returns the labels and what follows. */
function parseLabels(rest: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (rest[i] === "}") return { labels, rest: rest.slice(i + 1) };
    const name = LABEL_NAME.exec(rest.slice(i))?.[0];
    if (!name) throw new ExpositionError(`line ${line}: bad label name at ${JSON.stringify(rest.slice(i, i + 20))}`);
    if (name in labels) throw new ExpositionError(`line ${line}: label ${name} repeated`);
    i += name.length;
    if (rest[i] !== "=" || rest[i + 1] !== '"') throw new ExpositionError(`line ${line}: expected ="… after label ${name}`);
    i += 2;
    let value = "";
    for (;;) {
      const c = rest[i];
      if (c === undefined || c === "\n") throw new ExpositionError(`line ${line}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === "\\") {
        const e = rest[i + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else throw new ExpositionError(`line ${line}: invalid escape \\${e ?? ""} in label ${name}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (rest[i] === ",") i++;
    else if (rest[i] !== "}") throw new ExpositionError(`line ${line}: expected , or } after label ${name}`);
  }
}

/** The family a sample name belongs to (histogram/summary samples carry suffixes). */
function familyOf(sample: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f && (f.type === "histogram" || f.type === "summary")) return f;
  }
  return undefined;
}

export function parsePrometheusText(text: string): MetricFamily[] {
  if (text.length && !text.endsWith("\n")) throw new ExpositionError("the last line must end with a newline");
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  const seriesSeen = new Set<string>();
  const typed = new Set<string>();
  let current: MetricFamily | undefined;
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (!m) return; // a plain comment
      const [, keyword, name = "", rest = ""] = m;
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)?.[0] !== name) throw new ExpositionError(`line ${line}: bad metric name ${name}`);
      if (closed.has(name)) throw new ExpositionError(`line ${line}: family ${name} appears again after another family`);
      let f = families.get(name);
      if (!f) {
        f = { name, type: "untyped", help: undefined, samples: [] };
        families.set(name, f);
      }
      if (current && current !== f) closed.add(current.name);
      current = f;
      if (keyword === "HELP") {
        if (f.help !== undefined) throw new ExpositionError(`line ${line}: second HELP for ${name}`);
        f.help = unescapeHelp(rest, line);
      } else {
        if (f.samples.length) throw new ExpositionError(`line ${line}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new ExpositionError(`line ${line}: unknown type ${JSON.stringify(rest)}`);
        if (typed.has(name)) throw new ExpositionError(`line ${line}: second TYPE for ${name}`);
        typed.add(name);
        f.type = rest as MetricFamily["type"];
      }
      return;
    }
    const name = METRIC_NAME.exec(raw)?.[0];
    if (!name) throw new ExpositionError(`line ${line}: not a sample: ${JSON.stringify(raw)}`);
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2) throw new ExpositionError(`line ${line}: expected "<value> [timestamp]" after ${name}`);
    const value = parseValue(parts[0] ?? "", line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new ExpositionError(`line ${line}: bad timestamp ${parts[1]}`);
    let f = familyOf(name, families);
    if (!f) {
      // An untyped sample without HELP/TYPE starts its own family.
      if (closed.has(name)) throw new ExpositionError(`line ${line}: family ${name} appears again after another family`);
      f = { name, type: "untyped", help: undefined, samples: [] };
      families.set(name, f);
    }
    if (current && current !== f) closed.add(current.name);
    if (closed.has(f.name)) throw new ExpositionError(`line ${line}: family ${f.name} appears again after another family`);
    current = f;
    if (f.type === "counter" && !(value >= 0)) throw new ExpositionError(`line ${line}: counter ${name} is ${parts[0]}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seriesSeen.has(key)) throw new ExpositionError(`line ${line}: duplicate series ${name}${JSON.stringify(labels)}`);
    seriesSeen.add(key);
    f.samples.push({ name, labels, value });
  });
  return [...families.values()].map((f) => ({ name: f.name, type: f.type, help: f.help, samples: f.samples }));
}

/** The value of one series, or undefined when it is absent. */
export function sampleValue(families: readonly MetricFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const f of families) {
    for (const s of f.samples) if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want) return s.value;
  }
  return undefined;
}
