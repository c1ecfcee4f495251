/** Reading settings from environment variables, collecting problems instead of throwing one at a time. */
export interface EnvReader {
  /** The trimmed value, or undefined when unset or blank. */
  get(name: string): string | undefined;
  /** A whole number in [min, max], or `def` (with a problem recorded) when it is not one. */
  int(name: string, def: number, min: number, max: number): number;
}

export function envReader(env: Record<string, string | undefined>, problems: string[]): EnvReader {
  const get = (name: string) => env[name]?.trim() || undefined;
  return {
    get,
    int(name, def, min, max) {
      const raw = get(name);
      if (raw === undefined) return def;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max) {
        problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
        return def;
      }
      return n;
    },
  };
}
