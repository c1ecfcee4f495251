import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHandlers } from "../../build/bundle.ts";
import { checkHandlers } from "../../build/check.ts";
import { convertExporterConfig } from "../../build/import/convert.ts";
import { readExporterConfig } from "../../build/import/exporter-config.ts";
import { goRegexp } from "../../build/import/go-regexp.ts";
import { GoTemplateSyntaxError, parseGoTemplate, UnsupportedTemplateError } from "../../build/import/go-template.ts";
import { translateTemplate } from "../../build/import/go-translate.ts";
import { readEvents } from "../../dispatcher/replay/read-events.ts";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { normalizeEvent, type KubeEvent } from "../../sdk/index.ts";
import { capture, REPO_ROOT } from "../shared-data.ts";
import { runCli } from "./dev/run-cli.ts";

const TODAY = path.join(REPO_ROOT, "build/samples/event-exporter-today.yaml");
const TODAY_DOC = path.resolve(REPO_ROOT, "../shared/docs/today-setup.md");

function decodeEntities(text: string): string {
  return text.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
}

describe("the sample config", () => {
  it.skipIf(!existsSync(TODAY_DOC))("is exactly the resources of today-setup.md", () => {
    const doc = readFileSync(TODAY_DOC, "utf8");
    const block = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    const sample = readFileSync(TODAY, "utf8").replace(/^(#.*\n)+/, "");
    expect(sample).toBe(block);
  });
});

describe("parseGoTemplate", () => {
  it("reads text, fields, pipes, functions and if/else if/else", () => {
    const nodes = parseGoTemplate('a {{ .InvolvedObject.Kind | lower }} {{ if eq .Type "Warning" }}W{{ else if .Reason }}R{{ else }}N{{ end }}');
    expect(nodes.map((n) => n.kind)).toEqual(["text", "action", "text", "if"]);
    const action = nodes[1];
    expect(action?.kind === "action" && action.pipeline.commands.map((c) => c.operands.map((o) => o.kind))).toEqual([["field"], ["func"]]);
    const cond = nodes[3];
    expect(cond?.kind === "if" && cond.otherwise[0]?.kind).toBe("if");
  });

  it("trims around {{- and -}} but not {{-3}}", () => {
    const nodes = parseGoTemplate("a  \n {{- .Type -}} \n b{{-3}}");
    expect(nodes).toEqual([
      { kind: "text", text: "a" },
      { kind: "action", pipeline: { commands: [{ operands: [{ kind: "field", path: ["Type"] }] }] } },
      { kind: "text", text: "b" },
      { kind: "action", pipeline: { commands: [{ operands: [{ kind: "number", value: -3, text: "-3" }] }] } },
    ]);
  });

  it("drops comments and unquotes Go strings", () => {
    const nodes = parseGoTemplate('{{/* note */}}{{ "a\\tb\\u00e9" }}{{ `raw\\n` }}');
    expect(nodes).toEqual([
      { kind: "action", pipeline: { commands: [{ operands: [{ kind: "string", value: "a\tbé" }] }] } },
      { kind: "action", pipeline: { commands: [{ operands: [{ kind: "string", value: "raw\\n" }] }] } },
    ]);
  });

  it("tells syntax errors from unsupported constructs", () => {
    expect(() => parseGoTemplate("{{ .Type ")).toThrow(GoTemplateSyntaxError);
    expect(() => parseGoTemplate("{{ if .Type }}x")).toThrow(GoTemplateSyntaxError);
    expect(() => parseGoTemplate("{{ end }}")).toThrow(GoTemplateSyntaxError);
    expect(() => parseGoTemplate("{{ range .Labels }}x{{ end }}")).toThrow(UnsupportedTemplateError);
    expect(() => parseGoTemplate("{{ $x := .Type }}")).toThrow(UnsupportedTemplateError);
  });
});

describe("translateTemplate", () => {
  const event = normalizeEvent({
    type: "Warning", reason: "BackOff", message: "a*b <at id=all></at>", count: 3,
    metadata: { name: "e1", namespace: "iot", labels: { b: "2", a: "1" } },
    involvedObject: { kind: "Pod", name: "p", namespace: "iot" },
    lastTimestamp: "2026-11-20T06:00:00Z",
  });
  const ctx = { formatTime: (iso: string, style?: string) => `${style}:${iso}` };
  const run = (template: string, escape = false): string => {
    const t = translateTemplate(template, escape);
    if (t.kind !== "code") throw new Error(`${t.kind}: ${"reason" in t ? t.reason : ""}`);
    const helpers: Record<string, unknown> = {
      escapeMd: (s: string) => s.replace(/[*<>]/g, (c) => `&#${c.charCodeAt(0)};`),
      goMap: (m: Record<string, string>) => `map[${Object.keys(m).sort().map((k) => `${k}:${m[k]}`).join(" ")}]`,
      goQuote: (s: string) => JSON.stringify(s),
      goJson: (s: string) => JSON.stringify(s),
      goLen: (s: string) => Buffer.byteLength(s),
    };
    const fn = new Function("event", "ctx", ...Object.keys(helpers), `return ${t.code};`) as (...args: unknown[]) => string;
    return fn(event, ctx, ...Object.values(helpers));
  };

  it("maps EnhancedEvent fields to the handler's event and prints them as Go does", () => {
    expect(run("{{ .Type }}/{{ .InvolvedObject.Kind }}/{{ .Count }}/{{ .Namespace }}/{{ .Labels }}/{{ .Labels.a }}")).toBe("Warning/Pod/3/iot/map[a:1 b:2]/1");
    expect(run("{{ .LastTimestamp }}")).toBe("go:2026-11-20T06:00:00Z");
  });

  it("compiles functions, pipes and conditions", () => {
    expect(run('{{ if eq .Type "Warning" }}W{{ else }}N{{ end }}{{ if .Message }}!{{ end }}')).toBe("W!");
    expect(run('{{ .Reason | upper }} {{ index .Labels "b" }} {{ printf "%s=%d" .Reason .Count }} {{ .Reason | quote }} {{ len .Reason }}')).toBe('BACKOFF 2 BackOff=3 "BackOff" 7');
    expect(run('{{ .Action | default "none" }} {{ replace "Back" "Front" .Reason }} {{ if hasPrefix "Back" .Reason }}yes{{ end }}')).toBe("none FrontOff yes");
  });

  it("escapes values only, and only in markdown", () => {
    expect(run("**M:** {{ .Message }}", true)).toBe("**M:** a&#42;b &#60;at id=all&#62;&#60;/at&#62;");
    expect(run("**M:** {{ .Message }}", false)).toBe("**M:** a*b <at id=all></at>");
  });

  it("keeps backticks and ${ in the literal text", () => {
    expect(run("`${x}` {{ .Reason }}")).toBe("`${x}` BackOff");
  });

  it("reports what it cannot translate, and Go syntax errors", () => {
    expect(translateTemplate("plain", false)).toEqual({ kind: "static", value: "plain" });
    expect(translateTemplate("{{ .InvolvedObject.Labels.app }}", false)).toMatchObject({ kind: "unsupported", reason: expect.stringContaining("looked up by event-exporter") });
    expect(translateTemplate("{{ .Nope }}", false)).toMatchObject({ kind: "unsupported", reason: expect.stringContaining("not a field") });
    expect(translateTemplate("{{ sha256sum .Message }}", false)).toMatchObject({ kind: "unsupported" });
    expect(translateTemplate('{{ eq .Count "3" }}', false)).toMatchObject({ kind: "unsupported", reason: expect.stringContaining("incompatible") });
    expect(translateTemplate("{{ .Type", false)).toMatchObject({ kind: "syntax-error" });
  });
});

describe("goRegexp", () => {
  const matches = (pattern: string, value: string): boolean => {
    const r = goRegexp(pattern);
    return r.ok && new RegExp(r.source, r.flags).test(value);
  };

  it("matches unanchored, like regexp.MatchString", () => {
    expect(matches("Normal", "Normal")).toBe(true);
    expect(matches("Normal", "NotNormalAtAll")).toBe(true);
    expect(matches("^Normal$", "NotNormal")).toBe(false);
  });

  it("translates RE2-only syntax", () => {
    expect(matches("(?i)warning", "WARNING")).toBe(true);
    expect(matches("\\_x\\-y", "a_x-y")).toBe(true);
    expect(matches("[[:digit:]]+s", "took 30s")).toBe(true);
    expect(matches("\\pL\\p{Greek}", "aα")).toBe(true);
    expect(matches("\\Qa.b\\E", "axb")).toBe(false);
    expect(matches("(?P<n>Back)Off", "BackOff")).toBe(true);
  });

  it("refuses what Go's regexp refuses", () => {
    expect(goRegexp("a(?=b)")).toMatchObject({ ok: false });
    expect(goRegexp("(a)\\1")).toMatchObject({ ok: false });
    expect(goRegexp("(unclosed")).toMatchObject({ ok: false });
  });
});

describe("readExporterConfig", () => {
  it("finds the config in today's multi-document manifest, with the pod's TZ", () => {
    const config = readExporterConfig(readFileSync(TODAY, "utf8"), "today.yaml");
    expect(config.origin).toBe("today.yaml: ConfigMap monitoring/event-exporter-cfg, key config.yaml");
    expect(config.receivers.map((r) => `${r.name}:${r.kind}`)).toEqual(["dump:stdout", "feishu:webhook"]);
    expect(config.route.routes[1]?.drop[0]?.patterns).toEqual({ type: "Normal" });
    expect(config.podTimezone).toBe("Asia/Shanghai");
    expect(config.settings).toEqual({ logLevel: "error", logFormat: "json" });
  });

  it("reads a bare config.yaml and rejects files without one", () => {
    const config = readExporterConfig("route:\n  match:\n    - receiver: a\nreceivers:\n  - name: a\n    stdout: {}\n", "c.yaml");
    expect(config.route.match[0]?.receiver).toBe("a");
    expect(() => readExporterConfig("kind: Namespace\n", "x.yaml")).toThrow(/no kubernetes-event-exporter config/);
  });
});

describe("convertExporterConfig", () => {
  it("lists what it cannot convert", () => {
    const config = readExporterConfig(
      [
        "namespace: iot",
        "route:",
        "  routes:",
        "    - match:",
        "        - receiver: lark",
        "          labels: {app: x}",
        "          reason: (?=x)",
        "receivers:",
        "  - name: lark",
        "    webhook:",
        "      endpoint: https://open.feishu.cn/open-apis/bot/v2/hook/x",
        "      headers: {X-Token: t}",
        "      layout:",
        "        msg_type: interactive",
        "        card:",
        "          elements:",
        "            - tag: markdown",
        '              content: "{{ .InvolvedObject.Labels.app }}"',
        "  - name: slack",
        "    slack: {}",
      ].join("\n"),
      "c.yaml",
    );
    const { notes, source } = convertExporterConfig(config);
    const texts = notes.map((n) => `${n.kind}: ${n.text}`).join("\n");
    expect(texts).toMatch(/todo: namespace: .*EDGE_ALARM_WATCH_NAMESPACES=iot/);
    expect(texts).toMatch(/not-converted: receiver "slack" \(slack\)/);
    expect(texts).toMatch(/not-converted: receiver "lark": headers X-Token/);
    expect(texts).toMatch(/not-converted: route.routes\[0\].match\[0\]: rules on the involved object's labels/);
    expect(texts).toMatch(/difference: route.routes\[0\].match\[0\].reason: .*never matches/);
    expect(texts).toMatch(/not-converted: receiver "lark": card.elements\[0\].content: the involved object's labels/);
    expect(source).toContain("needsObjectMetadata: true");
    expect(source).toContain("NEVER /*");
    // The markdown element is outside the sdk's FeishuCard type: sent as written.
    expect(source).toContain("return card as unknown as FeishuCard;");
  });
});

describe("edge-alarm import on today's config", () => {
  let dir: string;
  let sandbox: Sandbox;
  let code: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-import-"));
    const out = path.join(dir, "feishu.ts");
    const run = await runCli(["import", TODAY, "--out", out]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/Not converted:\n {2}- logLevel[\s\S]*receiver "dump" \(stdout\)[\s\S]*To do:[\s\S]*EDGE_ALARM_TIMEZONE=Asia\/Shanghai/);
    const [bundle] = await bundleHandlers(dir);
    if (!bundle) throw new Error("no bundle");
    code = bundle.code;
    sandbox = await Sandbox.create();
    const loaded = await sandbox.load("feishu", code);
    expect(loaded).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    await sandbox?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function cards(event: KubeEvent, timezone = "Asia/Shanghai") {
    const outcome = await sandbox.call("feishu", JSON.stringify(event), { cluster: "edge", timezone, now: new Date().toISOString() });
    if (!outcome.ok) throw new Error(`${outcome.kind}: ${outcome.message}\n${outcome.stack ?? ""}`);
    return outcome.alarms.map((a) => a.card);
  }

  it("type-checks", async () => {
    const result = await checkHandlers(dir);
    expect(result.diagnostics).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("refuses to overwrite without --force", async () => {
    const run = await runCli(["import", TODAY, "--out", path.join(dir, "feishu.ts")]);
    expect(run).toMatchObject({ code: 1, stderr: expect.stringMatching(/exists; pass --force/) });
    expect(await readFile(path.join(dir, "feishu.ts"), "utf8")).toContain("event-exporter v0.11 routing");
  });

  it("gives a real Warning event the card event-exporter sent, field for field", async () => {
    const raw = readEvents(readFileSync(capture("kubevious-mock-data/kind-cluster/core-v1/kube-system/kube-apiserver-kind-control-plane.171aa68c62ebd5cc.yaml"), "utf8"), "x").items[0]?.object;
    const [card, extra] = await cards(normalizeEvent(raw));
    expect(extra).toBeUndefined();
    const content = (card?.elements[0] as { text: { content: string } }).text.content;
    expect(decodeEntities(content)).toBe(
      "**EventType:** Warning\n**EventKind:** Pod\n**EventReason:** Unhealthy\n**EventTime:** 2022-10-04 03:42:14 +0800 CST\n**EventMessage:** Readiness probe failed: HTTP probe failed with statuscode: 500",
    );
    expect(card?.header).toEqual({ title: { tag: "plain_text", content: "XXX IoT K3S cluster alarm" }, template: "red" });
    expect(card?.config).toEqual({ wide_screen_mode: true, enable_forward: true });
  });

  // Times within the sandbox's zone table are formatted in the guest (dispatcher/sandbox/glue.ts),
  // which must hand the "go" style to the host: only the host knows zone abbreviations.
  it("prints a current time in Go's format with the zone's abbreviation", async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const event = normalizeEvent({ type: "Warning", reason: "BackOff", message: "m", involvedObject: { kind: "Pod" }, lastTimestamp: now.toISOString() });
    const [card] = await cards(event);
    const content = decodeEntities((card?.elements[0] as { text: { content: string } }).text.content);
    const local = new Date(now.getTime() + 8 * 3600_000).toISOString().replace("T", " ").slice(0, 19);
    expect(content).toContain(`**EventTime:** ${local} +0800 CST\n`);
  });

  it("drops Normal events where the route drops them, and escapes injected markup", async () => {
    const items = readEvents(readFileSync(capture("erwee402-multi-k8s/default/events.json"), "utf8"), "x").items;
    const normal = items.map((i) => normalizeEvent(i.object)).filter((e) => e.type === "Normal").slice(0, 20);
    expect(normal.length).toBe(20);
    for (const e of normal) expect(await cards(e)).toEqual([]);
    const hostile = normalizeEvent({ type: "Warning", reason: "X", message: "<at id=all></at> **bold** [x](https://evil.example)", involvedObject: { kind: "Pod" }, lastTimestamp: "2022-01-01T00:00:00Z" });
    const [card] = await cards(hostile);
    const content = (card?.elements[0] as { text: { content: string } }).text.content;
    expect(content).not.toContain("<at");
    expect(content).not.toContain("**bold**");
    expect(decodeEntities(content)).toContain("**EventMessage:** <at id=all></at> **bold** [x](https://evil.example)");
  });
});
