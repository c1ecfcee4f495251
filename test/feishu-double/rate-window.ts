/**
 * Sliding-window rate limit per bot: at most `perSecond` messages in any 1 s and `perMinute` in
 * any 60 s (doc §4.1: strict since 2022, no burst allowance). Only accepted messages are counted:
 * the doc says messages over the limit fail, not that failed attempts use up quota.
 */

export interface RateLimits {
  perSecond: number;
  perMinute: number;
}

export const DEFAULT_RATE: RateLimits = { perSecond: 5, perMinute: 100 };

export interface RateWindow {
  /** True when one more message at `nowMs` stays within both windows. */
  allows(nowMs: number): boolean;
  record(nowMs: number): void;
  clear(): void;
}

export function createRateWindow(limits: RateLimits): RateWindow {
  let times: number[] = [];
  const countSince = (since: number): number => times.filter((t) => t > since).length;
  return {
    allows(nowMs) {
      times = times.filter((t) => t > nowMs - 60_000);
      return countSince(nowMs - 1000) < limits.perSecond && times.length < limits.perMinute;
    },
    record(nowMs) {
      times.push(nowMs);
    },
    clear() {
      times = [];
    },
  };
}
