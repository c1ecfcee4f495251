/**
 * @module Go (RE2) regular expressions as JavaScript ones, for event-exporter's route rules.
 * event-exporter calls `regexp.MatchString(pattern, value)`: unanchored (the pattern may match
 * anywhere), and a pattern that does not compile silently never matches.
 */

export type GoRegexp =
  | { ok: true; source: string; flags: string }
  /** Go refuses the pattern, so event-exporter's rule never matches. */
  | { ok: false; reason: string };

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z", alpha: "A-Za-z", ascii: "\\x00-\\x7F", blank: "\\t ", cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9", graph: "!-~", lower: "a-z", print: " -~", punct: "!-\\/:-@\\[-`{-~", space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z", word: "0-9A-Za-z_", xdigit: "0-9A-Fa-f",
};

/** Characters JavaScript's unicode mode lets be escaped (`-` only inside a class). */
const SYNTAX = new Set("^$\\.*+?()[]{}|/");

/**
 * RE2 lets any punctuation be escaped (`\_`, `\'`, `\-`); JavaScript's unicode mode refuses
 * those escapes, so they become the plain character, which means the same.
 */
function unicodeSafeEscapes(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] ?? "";
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      i++;
      const keep = /[A-Za-z0-9\s]/.test(next) || SYNTAX.has(next) || (inClass && next === "-");
      out += keep ? `\\${next}` : next;
      continue;
    }
    if (c === "[" && !inClass) inClass = true;
    else if (c === "]" && inClass) inClass = false;
    out += c;
  }
  return out;
}

/** Translate `pattern`; features JavaScript has and RE2 lacks make Go's compile fail, as here. */
export function goRegexp(pattern: string): GoRegexp {
  // RE2 has no lookaround and no backreferences: Go's regexp.Compile rejects them.
  if (/\(\?<?[=!]/.test(pattern)) return { ok: false, reason: "Go regular expressions have no lookahead or lookbehind" };
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(pattern)) return { ok: false, reason: "Go regular expressions have no backreferences" };
  let source = pattern;
  let flags = "u";
  // Leading flag groups such as (?i) or (?is) apply to the whole pattern.
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    const f = lead[1] ?? "";
    if (f.includes("U")) return { ok: false, reason: "the (?U) ungreedy flag has no JavaScript equivalent" };
    flags += [...new Set(f)].join("");
    source = source.slice(lead[0].length);
  }
  if (/\(\?[imsU-]+[):]/.test(source)) return { ok: false, reason: "inline flags in the middle of a pattern are not supported by the importer" };
  source = source
    .replace(/\(\?P</g, "(?<")
    // Go's \pL and \p{Greek}: JavaScript wants braces, and scripts as Script=Greek.
    .replace(/\\([pP])(?:\{(\^?)([A-Za-z_]+)\}|([A-Za-z]))/g, (_, p: string, neg: string | undefined, long: string | undefined, short: string | undefined) => {
      const name = long ?? short ?? "";
      const property = /^[A-Z][a-z]?$/.test(name) ? name : `Script=${name}`;
      return `\\${neg ? (p === "p" ? "P" : "p") : p}{${property}}`;
    })
    .replace(/\\A/g, "^")
    .replace(/\\z/g, "$(?![\\s\\S])")
    .replace(/\\Q([\s\S]*?)(\\E|$)/g, (_, quoted: string) => quoted.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"))
    .replace(/\[:(\^?)([a-z]+):\]/g, (whole, negated: string, name: string) => {
      const cls = POSIX_CLASSES[name];
      if (cls === undefined) return whole;
      // Only valid inside a bracket expression, which RE2 requires too ([[:alpha:]]).
      return negated ? `&&NEG${cls}&&` : cls;
    });
  if (source.includes("&&NEG")) return { ok: false, reason: "negated POSIX classes ([[:^alpha:]]) are not supported by the importer" };
  source = unicodeSafeEscapes(source);
  try {
    new RegExp(source, flags);
  } catch (err) {
    return { ok: false, reason: `not a valid regular expression: ${(err as Error).message}` };
  }
  return { ok: true, source, flags };
}
