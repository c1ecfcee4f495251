/**
 * Faults the double can inject, per token or for every token, switched at run time. Each fault
 * models one thing the edge link or the service does to a request (doc §4.3, §4.4, §7).
 */

export type Fault = (
  /**
   * The link is down. For every token: the listener closes, so connects are refused
   * (ECONNREFUSED) until the fault is cleared. For one token: the server cannot refuse a
   * connection per path, so it resets the socket as soon as that token's request arrives.
   */
  | { kind: "link-down" }
  /** A gateway answers instead of the service: an HTML page with this status (default 502). */
  | { kind: "gateway-html"; status?: number }
  /** The message is handled (and accepted, if valid) at once, but the answer waits `ms`. */
  | { kind: "delay"; ms: number }
  /** The request is lost on the way: never handled, never answered, the socket stays open. */
  | { kind: "never-answer" }
  /** The message is accepted, then the socket is destroyed without an answer: the duplicate case. */
  | { kind: "drop-after-accept" }
  /**
   * Platform-wide load around the hour and half-hour (doc §4.1): 11232 during these minutes of
   * the hour (UTC, by the double's clock), for the first `seconds` of each (default the whole minute).
   */
  | { kind: "rate-limit-at-minutes"; minutes: readonly number[]; seconds?: number }
) & {
  /**
   * Applies to this many requests, then clears itself; forever when absent. A global link-down
   * sees no requests, so it lasts until clearFaults().
   */
  times?: number;
};

export type FaultKind = Fault["kind"];
export type FaultOf<K extends FaultKind> = Extract<Fault, { kind: K }>;

interface ActiveFault {
  fault: Fault;
  left: number;
}

/** Faults by scope: a token, or every token (the `null` key). */
export interface FaultStore {
  add(fault: Fault, token: string | null): void;
  clear(token?: string): void;
  /** The active fault of this kind that applies to the token (its own first), consuming one use. */
  take<K extends FaultKind>(kind: K, token: string, when?: (f: FaultOf<K>) => boolean): FaultOf<K> | undefined;
}

function isKind<K extends FaultKind>(fault: Fault, kind: K): fault is FaultOf<K> {
  return fault.kind === kind;
}

export function createFaultStore(): FaultStore {
  const byScope = new Map<string | null, ActiveFault[]>();
  function find<K extends FaultKind>(scope: string | null, kind: K, when?: (f: FaultOf<K>) => boolean): ActiveFault | undefined {
    return byScope.get(scope)?.find((a) => isKind(a.fault, kind) && (when === undefined || when(a.fault)));
  }
  function take<K extends FaultKind>(kind: K, token: string, when?: (f: FaultOf<K>) => boolean): FaultOf<K> | undefined {
    const active = find(token, kind, when) ?? find(null, kind, when);
    if (active === undefined || !isKind(active.fault, kind)) return undefined;
    active.left -= 1;
    if (active.left <= 0) {
      for (const list of byScope.values()) {
        const i = list.indexOf(active);
        if (i >= 0) list.splice(i, 1);
      }
    }
    return active.fault;
  }
  return {
    add(fault, token) {
      const list = byScope.get(token) ?? [];
      list.push({ fault, left: fault.times ?? Number.POSITIVE_INFINITY });
      byScope.set(token, list);
    },
    clear(token) {
      if (token === undefined) byScope.clear();
      else byScope.delete(token);
    },
    take,
  };
}
