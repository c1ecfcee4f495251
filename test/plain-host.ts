/** Runs handler modules as plain functions behind the pipeline's HandlerHost interface (no sandbox). */
import { type Handler, type ContextData, type Alarm, type KubeEvent } from "../sdk/index.ts";
import { createContext } from "../dispatcher/time-format.ts";
import type { HandlerHost, HandlerOutcome, LoadedHandler } from "../dispatcher/pipeline/pipeline.ts";

export function plainHost(handlers: Record<string, Handler>): { host: HandlerHost; loaded: LoadedHandler[] } {
  const host: HandlerHost = {
    async call(name: string, eventJson: string, ctx: ContextData): Promise<HandlerOutcome> {
      const h = handlers[name];
      if (!h) return { ok: false, kind: "crashed", message: `no handler ${name}` };
      try {
        const event = JSON.parse(eventJson) as KubeEvent;
        if (typeof h.match === "function" && !h.match(event)) return { ok: true, alarms: [] };
        const r = h.handle(event, createContext(ctx));
        const alarms: Alarm[] = r == null ? [] : Array.isArray(r) ? r : [r];
        return { ok: true, alarms };
      } catch (err) {
        return { ok: false, kind: "throw", message: String((err as Error).message) };
      }
    },
  };
  const loaded = Object.entries(handlers).map(([name, h]) => ({
    name,
    ...(h.match && typeof h.match === "object" ? { match: h.match } : {}),
  }));
  return { host, loaded };
}
