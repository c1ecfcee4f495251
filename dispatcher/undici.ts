/**
 * The parts of undici the dispatcher uses, each imported from its own file. undici's index
 * requires everything it has on load (fetch, WebSocket, mock agents, cache stores on node:sqlite,
 * interceptors): measured on Node 24 with the Deployment's flags, ~3 MiB of anonymous memory and
 * ~7 MiB of resident node-binary pages for code the dispatcher never runs.
 */
import type * as Undici from "undici";
import AgentImpl from "undici/lib/dispatcher/agent.js";
import ClientImpl from "undici/lib/dispatcher/client.js";
import DispatcherImpl from "undici/lib/dispatcher/dispatcher.js";
import EnvHttpProxyAgentImpl from "undici/lib/dispatcher/env-http-proxy-agent.js";
import api from "undici/lib/api/index.js";

// What undici's index does on load: request(), connect() (which the proxy agent's CONNECT
// tunnels use) and the other API methods live on every Dispatcher.
Object.assign((DispatcherImpl as { prototype: object }).prototype, api);

export type { Dispatcher } from "undici";
export const Agent = AgentImpl as typeof Undici.Agent;
export const Client = ClientImpl as typeof Undici.Client;
export const EnvHttpProxyAgent = EnvHttpProxyAgentImpl as typeof Undici.EnvHttpProxyAgent;

export type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, "origin" | "path" | "method"> & {
  method: Undici.Dispatcher.HttpMethod;
  dispatcher: Undici.Dispatcher;
};

/** undici's `request(url, options)`, with the dispatcher always given (there is no global one here). */
export function request(url: string | URL, opts: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const target = typeof url === "string" ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({ ...rest, origin: target.origin, path: `${target.pathname}${target.search}` });
}
