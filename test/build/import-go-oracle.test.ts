/**
 * The generated handler against an independent reference: a Go program that does what
 * kubernetes-event-exporter v0.11 does with a webhook layout (its route and rule semantics, its
 * template walk, Go's text/template, encoding/json and time formatting, k8s.io/api's Event),
 * built from the Go module cache the kube-apiserver build fills. Every real captured event goes
 * through both; the cards must be the same, field for field, except for the two documented
 * differences: lark_md values are entity-escaped (compared decoded), and non-string layout values
 * are kept where v0.11 sends null.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHandlers } from "../../build/bundle.ts";
import { convertExporterConfig } from "../../build/import/convert.ts";
import { readExporterConfig, type ExporterRoute, type ExporterRule } from "../../build/import/exporter-config.ts";
import { readEvents } from "../../dispatcher/replay/read-events.ts";
import { Sandbox } from "../../dispatcher/sandbox/index.ts";
import { formatTime } from "../../dispatcher/time-format.ts";
import { normalizeEvent, type KubeEvent } from "../../sdk/index.ts";
import { REPO_ROOT, SHARED_EVENTS } from "../shared-data.ts";

const GO_ORACLE = String.raw`// The reference for edge-alarm import tests: what kubernetes-event-exporter v0.11 POSTs to a
// webhook receiver for an event, rebuilt from its routing rules (route.go, rule.go) and its
// layout walk (tmpl.go) on top of Go's own text/template, encoding/json, time formatting and
// k8s.io/api's Event type. Reads {route, receiver, layout, events} as JSON on stdin; writes one
// JSON line per event: the bodies sent to the receiver, or the error that stopped the send.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
)

type EnhancedObjectReference struct {
	corev1.ObjectReference
	Labels      map[string]string
	Annotations map[string]string
}

type EnhancedEvent struct {
	corev1.Event
	InvolvedObject EnhancedObjectReference
}

type Rule struct {
	Labels      map[string]string
	Annotations map[string]string
	Message     string
	APIVersion  string
	Kind        string
	Namespace   string
	Reason      string
	Type        string
	MinCount    int32
	Component   string
	Host        string
	Receiver    string
}

type Route struct {
	Drop   []Rule
	Match  []Rule
	Routes []Route
}

func matchString(pattern, s string) bool {
	matched, _ := regexp.MatchString(pattern, s)
	return matched
}

func mapMatches(rule, values map[string]string) bool {
	for k, v := range rule {
		val, ok := values[k]
		if !ok || !matchString(v, val) {
			return false
		}
	}
	return true
}

func (r *Rule) matches(ev *EnhancedEvent) bool {
	pairs := [][2]string{
		{r.Message, ev.Message}, {r.APIVersion, ev.InvolvedObject.APIVersion}, {r.Kind, ev.InvolvedObject.Kind},
		{r.Namespace, ev.Namespace}, {r.Reason, ev.Reason}, {r.Type, ev.Type},
		{r.Component, ev.Source.Component}, {r.Host, ev.Source.Host},
	}
	for _, p := range pairs {
		if p[0] != "" && !matchString(p[0], p[1]) {
			return false
		}
	}
	return mapMatches(r.Labels, ev.InvolvedObject.Labels) && mapMatches(r.Annotations, ev.InvolvedObject.Annotations) && ev.Count >= r.MinCount
}

func (r *Route) process(ev *EnhancedEvent, send func(string)) {
	for _, d := range r.Drop {
		if d.matches(ev) {
			return
		}
	}
	matchesAll := true
	for _, m := range r.Match {
		if m.matches(ev) {
			if m.Receiver != "" {
				send(m.Receiver)
			}
		} else {
			matchesAll = false
		}
	}
	if matchesAll {
		for i := range r.Routes {
			r.Routes[i].process(ev, send)
		}
	}
}

func empty(v interface{}) bool {
	g := reflect.ValueOf(v)
	if !g.IsValid() {
		return true
	}
	switch g.Kind() {
	case reflect.Array, reflect.Slice, reflect.Map, reflect.String:
		return g.Len() == 0
	case reflect.Bool:
		return !g.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.Int() == 0
	case reflect.Float32, reflect.Float64:
		return g.Float() == 0
	case reflect.Struct:
		return false
	default:
		return g.IsNil()
	}
}

// The sprig functions the importer translates, with sprig's argument order.
var funcs = template.FuncMap{
	"toJson":   func(v interface{}) string { b, _ := json.Marshal(v); return string(b) },
	"toString": func(v interface{}) string { return fmt.Sprint(v) },
	"default": func(d interface{}, given ...interface{}) interface{} {
		if len(given) == 0 || empty(given[0]) {
			return d
		}
		return given[0]
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"trim":  strings.TrimSpace,
	"quote": func(v ...interface{}) string {
		out := []string{}
		for _, s := range v {
			if s != nil {
				out = append(out, fmt.Sprintf("%q", fmt.Sprint(s)))
			}
		}
		return strings.Join(out, " ")
	},
	"replace":   func(o, n, s string) string { return strings.Replace(s, o, n, -1) },
	"contains":  func(substr, s string) bool { return strings.Contains(s, substr) },
	"hasPrefix": func(substr, s string) bool { return strings.HasPrefix(s, substr) },
	"hasSuffix": func(substr, s string) bool { return strings.HasSuffix(s, substr) },
}

func render(ev *EnhancedEvent, text string) (string, error) {
	t, err := template.New("template").Funcs(funcs).Parse(text)
	if err != nil {
		return "", nil // v0.11 swallows parse errors
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, ev); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func walk(v interface{}, ev *EnhancedEvent) (interface{}, error) {
	switch x := v.(type) {
	case string:
		return render(ev, x)
	case map[string]interface{}:
		out := map[string]interface{}{}
		for k, val := range x {
			r, err := walk(val, ev)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(x))
		for i := range x {
			r, err := walk(x[i], ev)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return nil, nil // v0.11 keeps only strings, maps and lists
}

type input struct {
	Route    Route
	Receiver string
	Layout   map[string]interface{}
	Events   []json.RawMessage
}

type output struct {
	Bodies []json.RawMessage
	Error  string
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, raw := range in.Events {
		var ev EnhancedEvent
		out := output{Bodies: []json.RawMessage{}}
		if err := json.Unmarshal(raw, &ev.Event); err != nil {
			out.Error = err.Error()
		} else {
			ev.InvolvedObject.ObjectReference = ev.Event.InvolvedObject
			in.Route.process(&ev, func(receiver string) {
				if receiver != in.Receiver || out.Error != "" {
					return
				}
				body, err := walk(map[string]interface{}(in.Layout), &ev)
				if err != nil {
					out.Error = err.Error()
					return
				}
				b, _ := json.Marshal(body)
				out.Bodies = append(out.Bodies, b)
			})
		}
		line, _ := json.Marshal(out)
		w.Write(append(line, '\n'))
	}
}
`;

/** Go's time.Time.String for instants × zones given as lines "zone|RFC 3339"; stdlib only. */
const GO_TIMES = String.raw`package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		parts := strings.SplitN(in.Text(), "|", 2)
		loc, err := time.LoadLocation(parts[0])
		t, err2 := time.Parse(time.RFC3339, parts[1])
		if err != nil || err2 != nil {
			fmt.Println("ERROR")
			continue
		}
		fmt.Println(t.In(loc).String())
	}
}
`;

const ZONES = [
  "Asia/Shanghai", "Asia/Taipei", "Asia/Hong_Kong", "Asia/Tokyo", "Asia/Seoul", "Asia/Kolkata", "Asia/Singapore", "Asia/Dubai",
  "Asia/Bangkok", "Asia/Jakarta", "Asia/Manila", "Asia/Karachi", "Asia/Jerusalem", "Asia/Kathmandu", "Europe/London", "Europe/Dublin",
  "Europe/Lisbon", "Europe/Berlin", "Europe/Paris", "Europe/Moscow", "Europe/Istanbul", "Europe/Athens", "Europe/Kyiv", "Africa/Cairo",
  "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
  "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto", "America/Mexico_City", "America/Sao_Paulo",
  "America/St_Johns", "Australia/Sydney", "Australia/Adelaide", "Australia/Perth", "Pacific/Auckland", "UTC", "Etc/UTC", "Etc/GMT", "Etc/GMT-8",
];
const INSTANTS = ["2019-03-08T08:50:12Z", "2026-01-15T06:00:00Z", "2026-07-15T06:00:00.250Z"];

const GO_MOD = "module oracle\n\ngo 1.24\n\nrequire (\n\tk8s.io/api v0.33.13\n\tk8s.io/apimachinery v0.33.13\n)\n";
const TIMEZONE = "Asia/Shanghai";
/** Events per capture file at most, spread evenly, to keep the run short. */
const PER_FILE = 250;

const goVersion = spawnSync("go", ["version"], { encoding: "utf8" });
const haveGo = goVersion.status === 0;
if (!haveGo && process.env.CI === "true") {
  throw new Error("the import oracle test needs Go (>= 1.24) on PATH with k8s.io/api v0.33.13 in the module cache (run `npx node test/env/build-binaries.ts` first)");
}

function goRoute(route: ExporterRoute): unknown {
  const rule = (r: ExporterRule) => ({ ...r.patterns, labels: r.labels, annotations: r.annotations, minCount: r.minCount ?? 0, receiver: r.receiver ?? "" });
  return { drop: route.drop.map(rule), match: route.match.map(rule), routes: route.routes.map(goRoute) };
}

function captureFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return captureFiles(full);
    return /\.(json|ya?ml)$/.test(name) ? [full] : [];
  });
}

function realEvents(): KubeEvent[] {
  const events: KubeEvent[] = [];
  for (const file of captureFiles(SHARED_EVENTS).sort()) {
    const items = readEvents(readFileSync(file, "utf8"), file).items;
    const step = Math.max(1, Math.ceil(items.length / PER_FILE));
    for (let i = 0; i < items.length; i += step) events.push(normalizeEvent(items[i]?.object));
  }
  return events;
}

type Json = Record<string, unknown>;

/** The handler's card as Feishu shows it, in the oracle's terms: entities decoded, null where v0.11 sends null. */
function comparable(ours: unknown, theirs: unknown): unknown {
  if (typeof ours === "string") return ours.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  if ((typeof ours === "boolean" || typeof ours === "number") && theirs === null) return null;
  if (Array.isArray(ours)) return ours.map((v, i) => comparable(v, Array.isArray(theirs) ? theirs[i] : undefined));
  if (typeof ours === "object" && ours !== null) {
    const t = (typeof theirs === "object" && theirs !== null ? theirs : {}) as Json;
    return Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, comparable(v, t[k])]));
  }
  return ours;
}

describe.skipIf(!haveGo)("imported handler vs event-exporter v0.11 (Go reference)", () => {
  let work: string;
  let sandbox: Sandbox;
  let oracle: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), "edge-alarm-oracle-"));
    await writeFile(path.join(work, "main.go"), GO_ORACLE);
    await writeFile(path.join(work, "go.mod"), GO_MOD);
    oracle = path.join(work, "oracle");
    // The same flags as test/env's kube-apiserver build, so k8s.io/api comes from the build cache.
    const built = spawnSync("go", ["build", "-trimpath", "-o", oracle, "."], {
      cwd: work,
      encoding: "utf8",
      env: { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off", GOSUMDB: "off", GOTOOLCHAIN: "local", CGO_ENABLED: "0" },
    });
    if (built.status !== 0) throw new Error(`building the Go reference failed (is k8s.io/api v0.33.13 in the module cache?):\n${built.stderr}`);
    sandbox = await Sandbox.create();
  }, 300_000);
  afterAll(async () => {
    await sandbox?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("formats times as Go does, zone abbreviations included", async () => {
    const dir = path.join(work, "times");
    await mkdir(dir);
    await writeFile(path.join(dir, "main.go"), GO_TIMES);
    await writeFile(path.join(dir, "go.mod"), "module times\n\ngo 1.24\n");
    const exe = path.join(dir, "times");
    const built = spawnSync("go", ["build", "-trimpath", "-o", exe, "."], { cwd: dir, encoding: "utf8", env: { ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: "0" } });
    expect(built.status, built.stderr).toBe(0);
    const cases = ZONES.flatMap((zone) => INSTANTS.map((iso) => ({ zone, iso })));
    const run = spawnSync(exe, [], { input: cases.map((c) => `${c.zone}|${c.iso}`).join("\n"), encoding: "utf8" });
    const want = run.stdout.trim().split("\n");
    expect(want).toHaveLength(cases.length);
    const got = cases.map((c) => formatTime(c.iso, c.zone, "go"));
    expect(got).toEqual(want);
  }, 120_000);

  it("sends the same cards for every real captured event", async () => {
    const config = readExporterConfig(readFileSync(path.join(REPO_ROOT, "build/samples/event-exporter-today.yaml"), "utf8"), "today.yaml");
    const handlers = await mkdtemp(path.join(tmpdir(), "edge-alarm-oracle-h-"));
    try {
      await writeFile(path.join(handlers, "feishu.ts"), convertExporterConfig(config).source);
      const [bundle] = await bundleHandlers(handlers);
      expect((await sandbox.load("feishu", bundle?.code ?? "")).ok).toBe(true);
    } finally {
      await rm(handlers, { recursive: true, force: true });
    }
    const events = realEvents();
    const layout = config.receivers.find((r) => r.name === "feishu")?.settings.layout;
    const input = JSON.stringify({ route: goRoute(config.route), receiver: "feishu", layout, events });
    const run = spawnSync(oracle, [], { input, encoding: "utf8", env: { ...process.env, TZ: TIMEZONE }, maxBuffer: 256 * 1024 * 1024 });
    expect(run.status, run.stderr).toBe(0);
    const expected = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as { Bodies: Json[]; Error: string });
    expect(expected).toHaveLength(events.length);

    let warnings = 0;
    for (const [i, event] of events.entries()) {
      const want = expected[i];
      expect(want?.Error, `Go failed on event ${i}`).toBe("");
      const outcome = await sandbox.call("feishu", JSON.stringify(event), { cluster: "edge", timezone: TIMEZONE, now: new Date().toISOString() });
      if (!outcome.ok) throw new Error(`handler failed on event ${i}: ${outcome.message}`);
      const ours = outcome.alarms.map((a) => ({ msg_type: "interactive", card: a.card }));
      expect(ours.length, `cards for event ${i} (${event.type} ${event.reason})`).toBe(want?.Bodies.length);
      ours.forEach((body, k) => expect(comparable(body, want?.Bodies[k]), `event ${i}: ${event.reason}`).toEqual(want?.Bodies[k]));
      if (ours.length) warnings++;
    }
    // The captures hold both kinds; both paths (card and no card) must have been exercised.
    expect(warnings).toBeGreaterThan(100);
    expect(events.length - warnings).toBeGreaterThan(100);
  }, 120_000);
});
