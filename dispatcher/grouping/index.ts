/**
 * @module Grouping and storm control between the handlers and the outbox (Alertmanager semantics
 * applied to Kubernetes Events). See docs/grouping.md.
 */
export { Grouper, groupId, type AlarmGrouper, type GroupInput, type GrouperOptions, type GrouperStats } from "./grouper.ts";
export { systemClock, VirtualClock, type Clock } from "./clock.ts";
export { fileNflogStore, memoryNflogStore, type NflogStore } from "./nflog.ts";
export {
  DEFAULT_GROUPING, groupingSettingsFromEnv, parseDuration, parseHandlerGrouping,
  type GroupingSettings, type GroupTiming, type HandlerGrouping,
} from "./settings.ts";
export { defaultGroupKey, podWorkload } from "./group-key.ts";
