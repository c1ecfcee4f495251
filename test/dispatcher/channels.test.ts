import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { channelKey, createSinks, describeChannels, loadChannels } from "../../dispatcher/channels.ts";
import { captureLog } from "./outbox/helpers.ts";

const FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/00000000-test-4000-8000-00000000feed";
const DING = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789";
const WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-channels-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadChannels", () => {
  it("EDGE_ALARM_FEISHU_WEBHOOK/SECRET define the default channel", () => {
    const { channels, problems } = loadChannels({ EDGE_ALARM_FEISHU_WEBHOOK: FEISHU, EDGE_ALARM_FEISHU_SECRET: "SECx" });
    expect(problems).toEqual([]);
    expect(channels.get("default")).toMatchObject({ name: "default", kind: "feishu", url: FEISHU, secret: "SECx" });
  });

  it("EDGE_ALARM_CHANNEL_<NAME>_URL/_SECRET/_KIND define more; the kind is inferred from robot URLs", () => {
    const { channels, problems } = loadChannels({
      EDGE_ALARM_FEISHU_WEBHOOK: FEISHU,
      EDGE_ALARM_CHANNEL_IOT_OPS_URL: DING,
      EDGE_ALARM_CHANNEL_IOT_OPS_SECRET: "SECding",
      EDGE_ALARM_CHANNEL_FACTORY_URL: WECOM,
      EDGE_ALARM_CHANNEL_PAGER_URL: "https://pager.example/hooks/abc",
      EDGE_ALARM_CHANNEL_PAGER_KIND: "webhook",
    });
    expect(problems).toEqual([]);
    expect(describeChannels(channels)).toEqual([
      { name: "default", kind: "feishu", signed: false },
      { name: "iot-ops", kind: "dingtalk", signed: true },
      { name: "factory", kind: "wecom", signed: false },
      { name: "pager", kind: "webhook", signed: false },
    ]);
  });

  it("reads a mounted Secret directory, skipping the ..data entries", async () => {
    await writeFile(path.join(dir, "ops.url"), `${DING}\n`);
    await writeFile(path.join(dir, "ops.secret"), "SECfile\n");
    await writeFile(path.join(dir, "relay.url"), "https://relay.example/in");
    await writeFile(path.join(dir, "relay.kind"), "webhook");
    await mkdir(path.join(dir, "..2025_06_01"));
    await symlink("..2025_06_01", path.join(dir, "..data"));
    const { channels, problems } = loadChannels({ EDGE_ALARM_CHANNELS_DIR: dir, EDGE_ALARM_FEISHU_WEBHOOK: FEISHU });
    expect(problems).toEqual([]);
    expect(channels.get("ops")).toMatchObject({ kind: "dingtalk", url: DING, secret: "SECfile" });
    expect(channels.get("relay")).toMatchObject({ kind: "webhook" });
  });

  it("reports every problem, naming variables and files but never a URL or secret", async () => {
    await writeFile(path.join(dir, "dup.url"), DING);
    const secretUrl = "https://open.feishu.cn/open-apis/bot/hook/0123456789abcdef0123456789abcdef";
    const { channels, problems } = loadChannels({
      EDGE_ALARM_FEISHU_WEBHOOK: secretUrl,
      EDGE_ALARM_CHANNEL_DUP_URL: DING,
      EDGE_ALARM_CHANNELS_DIR: dir,
      EDGE_ALARM_CHANNEL_X_URL: "https://example.com/whatever",
      EDGE_ALARM_CHANNEL_Y_URL: WECOM,
      EDGE_ALARM_CHANNEL_Y_SECRET: "SECnope",
      EDGE_ALARM_CHANNEL_Z_SECRET: "SECorphan",
      EDGE_ALARM_CHANNEL_K_URL: DING,
      EDGE_ALARM_CHANNEL_K_KIND: "slack",
    });
    expect(problems).toHaveLength(6);
    expect(problems.join("\n")).toMatch(/obsolete v1/);
    expect(problems.join("\n")).toMatch(/"dup": its url is set twice \(EDGE_ALARM_CHANNEL_DUP_URL and .*dup\.url\)/);
    expect(problems.join("\n")).toMatch(/"x": the URL is not a Feishu, DingTalk or WeCom robot URL/);
    expect(problems.join("\n")).toMatch(/"y": WeCom robots have no signing secret/);
    expect(problems.join("\n")).toMatch(/"z" has no URL/);
    expect(problems.join("\n")).toMatch(/"k": unknown kind "slack"/);
    for (const secret of [secretUrl, DING, WECOM, "SECnope", "SECorphan", "abcdef0123456789"]) expect(problems.join("\n")).not.toContain(secret);
    expect(channels.has("default")).toBe(false);
  });

  it("no channel at all is a problem; an unreadable directory is one too", () => {
    expect(loadChannels({}).problems).toEqual([expect.stringMatching(/no alarm channel is configured/)]);
    expect(loadChannels({ EDGE_ALARM_FEISHU_WEBHOOK: FEISHU, EDGE_ALARM_CHANNELS_DIR: path.join(dir, "missing") }).problems).toEqual([expect.stringMatching(/cannot list .*ENOENT/)]);
  });

  it("readFile and listDir can be injected", () => {
    const files: Record<string, string> = { "/s/a.url": WECOM };
    const { channels } = loadChannels({ EDGE_ALARM_CHANNELS_DIR: "/s" }, (f) => files[f] ?? "", () => Object.keys(files).map((f) => path.basename(f)));
    expect(channels.get("a")?.kind).toBe("wecom");
  });

  it("channelKey: case-insensitive, _ as -", () => {
    expect(channelKey(" IoT_Ops ")).toBe("iot-ops");
  });
});

describe("createSinks", () => {
  it("one sink per channel, of the right kind and rate, without logging URLs or secrets", () => {
    const log = captureLog("debug");
    const { channels } = loadChannels({ EDGE_ALARM_FEISHU_WEBHOOK: FEISHU, EDGE_ALARM_FEISHU_SECRET: "SECfeishu", EDGE_ALARM_CHANNEL_OPS_URL: DING, EDGE_ALARM_CHANNEL_F_URL: WECOM });
    const sinks = createSinks(channels, log.logger, { env: {} });
    expect([...sinks.keys()]).toEqual(["default", "ops", "f"]);
    expect(sinks.get("default")?.rateLimits).toEqual({ perSecond: 5, perMinute: 100 });
    expect(sinks.get("ops")?.rateLimits).toEqual({ perMinute: 20 });
    expect(sinks.get("f")?.rateLimits).toEqual({ perMinute: 20 });
    expect(sinks.get("ops")?.rateKey).toMatch(/^dingtalk:oapi\.dingtalk\.com#[0-9a-f]{8}$/);
    for (const secret of ["00000000-test-4000-8000-00000000feed", "SECfeishu", "abcdef0123456789", "693a91f6-7xxx"]) expect(log.text()).not.toContain(secret);
    return Promise.all([...sinks.values()].map((s) => s.close()));
  });
});
