import { describe, expect, it } from "vitest";
import { ConfigError, describeConfig, loadConfig } from "../../dispatcher/config.ts";

const good = {
  EDGE_ALARM_CLUSTER: "Test K3S cluster at home",
  EDGE_ALARM_FEISHU_WEBHOOK: "https://open.feishu.cn/open-apis/bot/v2/hook/00000000-test-4000-8000-00000000feed",
};

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({ ...good, TZ: "Asia/Shanghai" });
    expect(c).toMatchObject({ namespace: "monitoring", handlersConfigMap: "edge-alarm-handlers", watchNamespaces: [], timezone: "Asia/Shanghai", stateDir: undefined, httpPort: 8080, sandboxIsolation: "thread" });
  });

  it("runs handlers in a worker thread only when asked, and names a wrong isolation", () => {
    expect(loadConfig({ ...good, EDGE_ALARM_SANDBOX_ISOLATION: "worker" }).sandboxIsolation).toBe("worker");
    expect(() => loadConfig({ ...good, EDGE_ALARM_SANDBOX_ISOLATION: "process" })).toThrow(/EDGE_ALARM_SANDBOX_ISOLATION="process" must be thread or worker/);
  });

  it("lists every problem at once, without echoing the webhook token", () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        EDGE_ALARM_FEISHU_WEBHOOK: "https://open.feishu.cn/open-apis/bot/hook/0123456789abcdef0123456789abcdef",
        EDGE_ALARM_TIMEZONE: "Mars/Olympus",
        EDGE_ALARM_WATCH_NAMESPACES: "iot, Bad_NS",
        EDGE_ALARM_HTTP_PORT: "http",
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toHaveLength(5);
    expect(error!.message).toContain("EDGE_ALARM_CLUSTER is required");
    expect(error!.message).toMatch(/EDGE_ALARM_FEISHU_WEBHOOK/);
    expect(error!.message).toContain("unknown timezone");
    expect(error!.message).toContain('"Bad_NS"');
    expect(error!.message).toContain("EDGE_ALARM_HTTP_PORT");
    expect(error!.message).not.toContain("0123456789abcdef");
  });

  it("never shows secrets when described for the log", () => {
    const c = loadConfig({ ...good, EDGE_ALARM_FEISHU_SECRET: "s3cr3t-value" });
    const text = JSON.stringify(describeConfig(c));
    expect(text).not.toContain("00000000-test");
    expect(text).not.toContain("s3cr3t-value");
    expect(text).toContain(`"kind":"feishu","signed":true`);
  });
});
