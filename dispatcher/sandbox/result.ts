/**
 * Host-side reading of the glue envelope: the handler's result must be null, one Alarm or an
 * array of Alarms, each with a plain-object `card` and optional string `group`/`channel`.
 * Cards are not truncated here (the delivery pipeline owns the 20,000-byte budget); only a
 * result over the configured byte cap is refused.
 */
import type { Alarm, FeishuCard } from "../../sdk/index.ts";
import { decodeLogs } from "./guest-logs.ts";
import type { GuestLog } from "./types.ts";

export type ParsedResult = { ok: true; alarms: Alarm[]; logs: GuestLog[] } | { ok: false; message: string; logs: GuestLog[] };

interface Envelope {
  r?: unknown;
  x?: unknown;
  l?: unknown;
  d?: unknown;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function optionalString(alarm: Json, key: "group" | "channel", where: string): string | undefined {
  const v = alarm[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new TypeError(`${where}: ${key} is ${kindOf(v)}, not a string`);
  return v;
}

function toAlarm(value: unknown, where: string): Alarm {
  if (!isObject(value)) throw new TypeError(`${where} is ${kindOf(value)}, not an object { card, group?, channel? }`);
  const card = value.card;
  if (card === undefined) throw new TypeError(`${where} has no card`);
  if (!isObject(card)) throw new TypeError(`${where}: card is ${kindOf(card)}, not an object`);
  const alarm: Alarm = { card: card as unknown as FeishuCard };
  const group = optionalString(value, "group", where);
  const channel = optionalString(value, "channel", where);
  if (group !== undefined) alarm.group = group;
  if (channel !== undefined) alarm.channel = channel;
  return alarm;
}

/** The alarms in a handler result, or a TypeError saying what is wrong with it. */
export function toAlarms(result: unknown): Alarm[] {
  if (result === null || result === undefined) return [];
  if (Array.isArray(result)) return result.map((a, i) => toAlarm(a, `alarm [${i}]`));
  if (isObject(result)) return [toAlarm(result, "the alarm")];
  throw new TypeError(`handle() returned ${kindOf(result)}; expected null, an Alarm or an array of Alarms`);
}

export function parseEnvelope(envelope: string, maxResultBytes: number): ParsedResult {
  let parsed: Envelope;
  try {
    parsed = JSON.parse(envelope) as Envelope;
  } catch (e) {
    return { ok: false, message: `the sandbox returned unreadable JSON: ${(e as Error).message}`, logs: [] };
  }
  const logs = decodeLogs(parsed.l, parsed.d);
  if (typeof parsed.x === "string") return { ok: false, message: parsed.x, logs };
  // The guest caps the result by characters; multi-byte text can still exceed the byte cap.
  if (envelope.length * 3 > maxResultBytes) {
    const bytes = Buffer.byteLength(JSON.stringify(parsed.r ?? null));
    if (bytes > maxResultBytes) return { ok: false, message: `the result is ${bytes} bytes of JSON, over the limit of ${maxResultBytes}`, logs };
  }
  try {
    return { ok: true, alarms: toAlarms(parsed.r), logs };
  } catch (e) {
    return { ok: false, message: (e as Error).message, logs };
  }
}
