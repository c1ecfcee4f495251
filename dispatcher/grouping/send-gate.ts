/**
 * Two budgets per channel. The storm budget (a token bucket of whole notifications) decides when
 * due groups stop getting a card each and are combined into a digest. The send limits (Feishu's
 * 5 per second and 100 per minute per bot) place every card, follow-ups included, in time.
 */
import type { SendLimits, StormBudget } from "./settings.ts";

/** Tokens of a bucket at `now`, refilled one per period up to the burst. */
export function tokensAt(tokens: number, since: number, now: number, storm: StormBudget): number {
  return Math.min(storm.burst, tokens + Math.max(0, now - since) / storm.periodMs);
}

/** When the bucket next holds a whole token. */
export function nextTokenAt(tokens: number, since: number, storm: StormBudget): number {
  return tokens >= 1 ? since : since + Math.ceil((1 - tokens) * storm.periodMs);
}

/**
 * Send times for `n` more cards, none before `now`, keeping every window of one second at or
 * under `perSecond` cards and every window of a minute at or under `perMinute`, given the times
 * already planned (`sent`, ascending). Cards keep their order.
 */
export function planSendTimes(sent: readonly number[], n: number, now: number, limits: SendLimits): number[] {
  const all = [...sent];
  const out: number[] = [];
  let t = Math.max(now, all.at(-1) ?? now);
  for (let i = 0; i < n; i++) {
    for (;;) {
      // The card at position len-limit must be a full window before t.
      const secondBlocker = all.length >= limits.perSecond ? all[all.length - limits.perSecond]! : -Infinity;
      const minuteBlocker = all.length >= limits.perMinute ? all[all.length - limits.perMinute]! : -Infinity;
      const earliest = Math.max(secondBlocker + 1000, minuteBlocker + 60_000);
      if (t >= earliest) break;
      t = earliest;
    }
    all.push(t);
    out.push(t);
  }
  return out;
}

/** True when the times (ascending) keep both limits; used by tests and the bench. */
export function withinLimits(times: readonly number[], limits: SendLimits): boolean {
  for (let i = 0; i < times.length; i++) {
    const s = times[i + limits.perSecond];
    if (s !== undefined && s - times[i]! < 1000) return false;
    const m = times[i + limits.perMinute];
    if (m !== undefined && m - times[i]! < 60_000) return false;
  }
  return true;
}
