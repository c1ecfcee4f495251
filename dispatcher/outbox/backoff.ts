/**
 * When to try again. Exponential backoff with "equal jitter" (half fixed, half random), so
 * several channels failing together spread out, and never less than a second after a rate-limit
 * answer (doc §4.4). Retries and backlog digests also keep off the :00 and :30 marks, where
 * Feishu answers 11232 under platform-wide load even below a bot's own quota (doc §4.1).
 */

export type RetryCause = "offline" | "rate" | "service";

const BASE_MS: Record<RetryCause, number> = { offline: 1000, rate: 2000, service: 1000 };
/** An offline channel is probed at least every 2 minutes, so recovery is noticed quickly. */
const CAP_MS: Record<RetryCause, number> = { offline: 120_000, rate: 60_000, service: 60_000 };

/** Delay before attempt number `failures + 1` (failures ≥ 1). */
export function retryDelayMs(failures: number, cause: RetryCause, random: () => number): number {
  const full = Math.min(CAP_MS[cause], BASE_MS[cause] * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return full / 2 + (random() * full) / 2;
}

const HALF_HOUR = 30 * 60_000;
/** The quiet zone around each :00 and :30 (UTC, which is also Beijing time's half-hours). */
export const QUIET_BEFORE_MS = 10_000;
export const QUIET_AFTER_MS = 30_000;
const SPREAD_MS = 15_000;

/** Whether `t` falls in the quiet zone around a :00 or :30 mark. */
export function nearMinuteMark(t: number): boolean {
  const into = ((t % HALF_HOUR) + HALF_HOUR) % HALF_HOUR;
  return into < QUIET_AFTER_MS || into >= HALF_HOUR - QUIET_BEFORE_MS;
}

/** `t`, or a jittered moment just after the quiet zone when `t` falls inside one. */
export function avoidMinuteMarks(t: number, random: () => number): number {
  if (!nearMinuteMark(t)) return t;
  const into = ((t % HALF_HOUR) + HALF_HOUR) % HALF_HOUR;
  const mark = into < QUIET_AFTER_MS ? t - into : t - into + HALF_HOUR;
  return mark + QUIET_AFTER_MS + random() * SPREAD_MS;
}
