/**
 * The proxy path: sinks reach the webhook through a local HTTP proxy named by HTTP(S)_PROXY,
 * by forwarding (http targets) or CONNECT tunnels, skip it for NO_PROXY hosts, send the proxy's
 * credentials to the proxy only, and never log them.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSinks, loadChannels } from "../../../dispatcher/channels.ts";
import { createOutbox } from "../../../dispatcher/outbox/outbox.ts";
import { createFeishuSink } from "../../../dispatcher/sinks/feishu.ts";
import { proxySettings, transportFailure } from "../../../dispatcher/sinks/http-transport.ts";
import type { Sink } from "../../../dispatcher/sinks/sink.ts";
import { startFeishuDouble, type FeishuDouble } from "../../feishu-double/double.ts";
import { startForwardProxy, type ForwardProxy } from "../../robot-doubles/forward-proxy.ts";
import { startRobotDouble, type RobotDouble } from "../../robot-doubles/robot-double.ts";
import { captureLog, makeDelivery } from "../outbox/helpers.ts";
import { contractCard } from "./sink-contract.ts";

const TOKEN = randomUUID();
let double: FeishuDouble;
let proxy: ForwardProxy;
const log = captureLog("debug");
const sinks: Sink[] = [];

beforeAll(async () => {
  double = await startFeishuDouble({ bots: { [TOKEN]: {} } });
});
afterAll(async () => {
  await double.close();
});
beforeEach(async () => {
  proxy = await startForwardProxy();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await proxy.close();
  await double.reset();
});

function sinkVia(env: Record<string, string>): Sink {
  const s = createFeishuSink({ webhook: double.url(TOKEN), logger: log.logger, timeoutMs: 2000, proxy: proxySettings(env) });
  sinks.push(s);
  return s;
}

describe("proxy settings from the environment", () => {
  it("reads upper and lower case, lower case winning, and the tunnel switch", () => {
    expect(proxySettings({ HTTPS_PROXY: "http://a:1", https_proxy: "http://b:2", NO_PROXY: "x", EDGE_ALARM_PROXY_TUNNEL: "true" })).toEqual({ httpsProxy: "http://b:2", noProxy: "x", tunnel: true });
    expect(proxySettings({})).toEqual({});
  });
});

describe("sending through a local HTTP proxy", () => {
  it("HTTP_PROXY: the request is forwarded by the proxy and delivered", async () => {
    expect(await sinkVia({ HTTP_PROXY: proxy.url }).send(contractCard, {})).toEqual({ ok: true, code: 0 });
    expect(proxy.seen.map((r) => r.method)).toEqual(["FORWARD"]);
    expect(proxy.seen[0]?.target).toBe(new URL(double.origin).host);
    expect(double.accepted(TOKEN)).toHaveLength(1);
  });

  it("a tunnelling proxy: CONNECT, then the request inside the tunnel", async () => {
    expect(await sinkVia({ HTTP_PROXY: proxy.url, EDGE_ALARM_PROXY_TUNNEL: "true" }).send(contractCard, {})).toEqual({ ok: true, code: 0 });
    expect(proxy.seen.map((r) => [r.method, r.target])).toEqual([["CONNECT", new URL(double.origin).host]]);
  });

  it("NO_PROXY matching the host: straight to the webhook, the proxy sees nothing", async () => {
    expect(await sinkVia({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" }).send(contractCard, {})).toEqual({ ok: true, code: 0 });
    expect(proxy.seen).toEqual([]);
  });

  it("proxy credentials go to the proxy as Proxy-Authorization and never into a log", async () => {
    const password = `pw-${randomUUID()}`;
    const url = new URL(proxy.url);
    url.username = "edge";
    url.password = password;
    expect(await sinkVia({ HTTP_PROXY: url.toString() }).send(contractCard, {})).toEqual({ ok: true, code: 0 });
    expect(proxy.seen[0]?.proxyAuthorization).toBe(`Basic ${Buffer.from(`edge:${password}`).toString("base64")}`);
    expect(log.text()).not.toContain(password);
  });

  it("the proxy down: connection refused, retryable, surely not delivered", async () => {
    const s = sinkVia({ HTTP_PROXY: proxy.url });
    await proxy.close();
    expect(await s.send(contractCard, {})).toMatchObject({ ok: false, code: null, retryable: true, maybeDelivered: false });
  });

  it("channels from the environment, through the proxy, all the way through the outbox", async () => {
    const robot: RobotDouble = await startRobotDouble({ kind: "wecom", token: "k1" });
    try {
      const env = { EDGE_ALARM_FEISHU_WEBHOOK: double.url(TOKEN), EDGE_ALARM_CHANNEL_OPS_URL: robot.url(), HTTP_PROXY: proxy.url };
      const { channels, problems } = loadChannels(env);
      expect(problems).toEqual([]);
      const channelSinks = createSinks(channels, log.logger, { env });
      sinks.push(...channelSinks.values());
      const outbox = await createOutbox({ sinks: channelSinks, logger: log.logger });
      outbox.start();
      await outbox.enqueue(makeDelivery(1));
      await outbox.enqueue(makeDelivery(2, { channel: "ops" }));
      await outbox.drain(5000);
      await outbox.stop();
      expect(double.accepted(TOKEN)).toHaveLength(1);
      expect(robot.accepted()).toHaveLength(1);
      expect(proxy.seen.map((r) => r.method)).toEqual(["FORWARD", "FORWARD"]);
    } finally {
      await robot.close();
    }
  });
});

describe("transport failures", () => {
  it("tells 'never sent' from 'may have been sent'", () => {
    expect(transportFailure(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), 1000)).toMatchObject({ maybeDelivered: false });
    expect(transportFailure(new AggregateError([Object.assign(new Error("x"), { code: "ENETUNREACH" })]), 1000)).toMatchObject({ maybeDelivered: false });
    expect(transportFailure(Object.assign(new Error("x"), { code: "ECONNRESET" }), 1000)).toMatchObject({ maybeDelivered: true });
    expect(transportFailure(Object.assign(new Error("x"), { name: "TimeoutError" }), 1000)).toMatchObject({ maybeDelivered: true, msg: "no answer within 1000 ms" });
    expect(transportFailure(new Error("odd"), 1000)).toMatchObject({ maybeDelivered: true, retryable: true });
  });
});
