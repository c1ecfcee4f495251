/**
 * A send budget per webhook: at most `perSecond` sends in any second and `perMinute` in any
 * minute. Feishu enforces 100/min strictly, with no burst allowance (doc §4.1), so this is a
 * sliding-window log, not a token bucket: a bucket of 100 refilled at 100/min lets 200 through
 * in one 60 s window (a full bucket, then its refill).
 *
 * Windows are measured from the END of each send (when its answer came). A send starts only
 * after the answer of the send `perMinute` before it plus 60 s, so its arrival at the service is
 * later than that earlier send's arrival plus 60 s, whatever the network latency: the service
 * can never count more than the limit in its own window. A send in flight counts in every window.
 */
import type { RateLimits } from "../sinks/sink.ts";

const SECOND = 1000;
const MINUTE = 60_000;
/** How long to wait when only sends still in flight block the budget. */
const IN_FLIGHT_POLL_MS = 50;

export interface RateSlot {
  /** The send got an answer (or may have reached the service) at `atMs`. */
  finish(atMs: number): void;
  /** The send surely never reached the service (connection refused): it uses no budget. */
  cancel(): void;
}

export interface RateGate {
  /** Milliseconds until one more send fits (0: now). */
  waitMs(nowMs: number): number;
  /** How many sends fit right now. */
  available(nowMs: number): number;
  acquire(nowMs: number): RateSlot;
}

export function createRateGate(limits: RateLimits): RateGate {
  const windows: Array<[number, number]> = [[MINUTE, limits.perMinute]];
  if (limits.perSecond !== undefined) windows.push([SECOND, limits.perSecond]);
  let times: number[] = []; // finished sends, ascending
  let inFlight = 0;

  const prune = (now: number): void => {
    const keepFrom = times.findIndex((t) => t > now - MINUTE);
    times = keepFrom === -1 ? [] : times.slice(keepFrom);
  };
  const inWindow = (now: number, span: number): number[] => times.filter((t) => t > now - span);

  return {
    waitMs(now) {
      prune(now);
      let wait = 0;
      for (const [span, max] of windows) {
        const recent = inWindow(now, span);
        const mustLeave = recent.length + inFlight - max + 1;
        if (mustLeave <= 0) continue;
        const leaving = recent[mustLeave - 1];
        wait = Math.max(wait, leaving === undefined ? IN_FLIGHT_POLL_MS : leaving + span - now);
      }
      return wait;
    },
    available(now) {
      prune(now);
      return Math.max(0, Math.min(...windows.map(([span, max]) => max - inWindow(now, span).length - inFlight)));
    },
    acquire() {
      inFlight++;
      let done = false;
      const release = (): boolean => {
        if (done) return false;
        done = true;
        inFlight--;
        return true;
      };
      return {
        finish(at) {
          if (!release()) return;
          let i = times.length;
          while (i > 0 && (times[i - 1] as number) > at) i--;
          times.splice(i, 0, at);
        },
        cancel() {
          release();
        },
      };
    },
  };
}
