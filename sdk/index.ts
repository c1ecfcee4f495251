/**
 * @module edge-alarm sdk: everything a handler may import. It imports nothing itself and runs
 * inside QuickJS, so it uses no Node or browser API.
 */
export type { KubeEvent, ObjectReference } from "./event.ts";
export { normalizeEvent, looksLikeEvent } from "./event.ts";
export type { HandlerContext, ContextData, TimeStyle } from "./context.ts";
export type { Alarm, Duration, GroupingTimers, HandleResult, Handler, MatchSpec } from "./handler.ts";
export { defineHandler, matches } from "./handler.ts";
export type { FeishuCard, CardElement, DivElement, Field, Text, PlainText, HeaderTemplate, Button } from "./card.ts";
export { card, div, fields, hr, note, actions, button } from "./card.ts";
export type { LarkMd, Trusted } from "./markdown.ts";
export { md, raw, at, link, escapeMd, safeUrl } from "./markdown.ts";
export { fingerprint, hash } from "./fingerprint.ts";

/** Bumped when the handler ABI changes; recorded in every built bundle's manifest. */
export const SDK_VERSION = "1";
