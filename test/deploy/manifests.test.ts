/**
 * The deploy/ base and `edge-alarm manifests`: the same objects, valid for the real API server
 * (server-side dry run with strict field validation), and the hardening the issue asks for.
 */
import { cp, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { manifestsCommand, renderManifests } from "../../build/commands/manifests.ts";
import { UserError } from "../../build/errors.ts";
import { REPO_ROOT } from "../shared-data.ts";
import { DEPLOY_DIR, ensureNamespace, kubectl } from "./cluster.ts";

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const objects = (yaml: string): Obj[] => parseAllDocuments(yaml).map((d) => d.toJS() as Obj).filter(Boolean);
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
const byKey = (list: Obj[]) => Object.fromEntries(list.map((o) => [key(o), o]));

interface Container {
  name: string;
  image: string;
  command?: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }>;
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: Array<{ preference: { matchExpressions: Array<{ key: string }> } }> } };
  tolerations: Array<{ key: string; effect: string }>;
  containers: Container[];
  volumes: Array<{ name: string; emptyDir?: object; hostPath?: object }>;
}

function deployment(list: Obj[]): { pod: PodSpec; container: Container } {
  const d = list.find((o) => o.kind === "Deployment") as (Obj & { spec: { template: { spec: PodSpec } } }) | undefined;
  if (!d) throw new Error("no Deployment");
  const container = d.spec.template.spec.containers[0];
  if (!container) throw new Error("no container");
  return { pod: d.spec.template.spec, container };
}

let kustomized: Obj[];

beforeAll(async () => {
  kustomized = objects((await kubectl(["kustomize", DEPLOY_DIR])).stdout);
});

describe("edge-alarm manifests", () => {
  it("renders exactly the objects of `kubectl kustomize deploy/`", async () => {
    const rendered = objects(await renderManifests());
    expect(rendered.map(key).sort()).toEqual(kustomized.map(key).sort());
    expect(byKey(rendered)).toEqual(byKey(kustomized));
    expect(rendered[0]?.kind, "the Namespace comes first").toBe("Namespace");
  });

  it("sets the cluster name, time zone and image, and validates the zone", async () => {
    const { container } = deployment(objects(await renderManifests({ cluster: "pi-edge-7", timezone: "Europe/Berlin", image: "reg.example/ea:9" })));
    expect(container.env.find((e) => e.name === "EDGE_ALARM_CLUSTER")?.value).toBe("pi-edge-7");
    expect(container.env.find((e) => e.name === "TZ")?.value).toBe("Europe/Berlin");
    expect(container.image).toBe("reg.example/ea:9");
    await expect(renderManifests({ timezone: "Mars/Olympus" })).rejects.toThrow(UserError);
  });

  it("adds the handlers ConfigMap and the Secret before the Deployment, for one-file K3S installs", async () => {
    const yaml = await renderManifests({ k3s: true, handlersDir: path.join(REPO_ROOT, "handlers"), secret: { webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/t0k3n", signingSecret: "s3cr3t" } });
    expect(yaml).toContain("/var/lib/rancher/k3s/server/manifests");
    const list = objects(yaml);
    const kinds = list.map((o) => o.kind);
    expect(kinds.indexOf("ConfigMap")).toBeGreaterThan(kinds.indexOf("Namespace"));
    expect(kinds.indexOf("ConfigMap")).toBeLessThan(kinds.indexOf("Deployment"));
    expect(kinds.indexOf("Secret")).toBeLessThan(kinds.indexOf("Deployment"));
    const cm = list.find((o) => o.kind === "ConfigMap") as Obj & { data: Record<string, string> };
    expect(cm.metadata).toMatchObject({ name: "edge-alarm-handlers", namespace: "monitoring" });
    expect(Object.keys(cm.data)).toEqual(expect.arrayContaining(["default.js", "manifest.json"]));
    const secret = list.find((o) => o.kind === "Secret") as Obj & { stringData: Record<string, string> };
    expect(secret.stringData).toEqual({ webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/t0k3n", secret: "s3cr3t" });
    // The Deployment reads exactly this Secret's keys.
    const { container } = deployment(list);
    expect(container.env.find((e) => e.name === "EDGE_ALARM_FEISHU_WEBHOOK")?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: "webhook" });
  });

  it("writes a file holding the token with mode 600, the token taken from the environment only", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-manifests-"));
    const out = path.join(dir, "edge-alarm.yaml");
    await writeFile(out, "old", { mode: 0o644 });
    const saved = process.env.EDGE_ALARM_FEISHU_WEBHOOK;
    process.env.EDGE_ALARM_FEISHU_WEBHOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/from-env";
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await manifestsCommand.run(["--k3s", "--secret-from-env", "--cluster", "c1", "--out", out]);
    } finally {
      process.stderr.write = stderr;
      if (saved === undefined) delete process.env.EDGE_ALARM_FEISHU_WEBHOOK;
      else process.env.EDGE_ALARM_FEISHU_WEBHOOK = saved;
    }
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(await readFile(out, "utf8")).toContain("hook/from-env");
    if (saved === undefined) await expect(manifestsCommand.run(["--secret-from-env"])).rejects.toThrow(/EDGE_ALARM_FEISHU_WEBHOOK is not set/);
  });

  it("refuses a kustomization field it would not render, instead of drifting from kustomize", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-deploy-"));
    await cp(DEPLOY_DIR, dir, { recursive: true });
    await writeFile(path.join(dir, "kustomization.yaml"), `${await readFile(path.join(dir, "kustomization.yaml"), "utf8")}namePrefix: x-\n`);
    await expect(renderManifests({ deployDir: dir })).rejects.toThrow(/namePrefix/);
  });
});

describe("the deploy/ base", () => {
  it("holds no real token: the Secret is only a template outside the kustomization", async () => {
    expect(kustomized.some((o) => o.kind === "Secret")).toBe(false);
    const example = objects(await readFile(path.join(DEPLOY_DIR, "secret.example.yaml"), "utf8"))[0] as Obj & { stringData: Record<string, string> };
    expect(example.stringData.webhook).toMatch(/REPLACE-WITH/);
  });

  it("runs hardened: non-root, read-only root, no capabilities, RuntimeDefault seccomp, probes, state on an emptyDir", () => {
    const { pod, container } = deployment(kustomized);
    expect(pod.serviceAccountName).toBe("edge-alarm");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.resources.requests.memory).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    const stateDir = container.env.find((e) => e.name === "EDGE_ALARM_STATE_DIR")?.value;
    const mount = container.volumeMounts.find((m) => m.mountPath === stateDir);
    expect(pod.volumes.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
    for (const name of ["EDGE_ALARM_FEISHU_WEBHOOK", "EDGE_ALARM_FEISHU_SECRET"]) {
      expect(container.env.find((e) => e.name === name)?.valueFrom?.secretKeyRef?.name, name).toBe("edge-alarm-feishu");
    }
    expect(container.env.find((e) => e.name === "TZ")?.value).toBe("Asia/Shanghai");
  });

  it("keeps today's placement: prefers the control-plane node and tolerates its taints", () => {
    const { pod } = deployment(kustomized);
    const keys = ["node-role.kubernetes.io/controlplane", "node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"];
    expect(pod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.map((p) => p.preference.matchExpressions[0]?.key)).toEqual(keys);
    expect(pod.tolerations.map((t) => [t.key, t.effect])).toEqual(keys.map((k) => [k, "NoSchedule"]));
  });

  it("limits egress to DNS, the API server and public HTTPS", () => {
    const policy = kustomized.find((o) => o.kind === "NetworkPolicy") as Obj & { spec: { policyTypes: string[]; egress: Array<{ ports: Array<{ port: number }>; to?: Array<{ ipBlock?: { cidr: string; except?: string[] } }> }> } };
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    const ports = policy.spec.egress.flatMap((r) => r.ports.map((p) => p.port));
    expect([...new Set(ports)].sort((a, b) => a - b)).toEqual([53, 443, 6443]);
    const publicHttps = policy.spec.egress.find((r) => r.to?.[0]?.ipBlock?.cidr === "0.0.0.0/0");
    expect(publicHttps?.to?.[0]?.ipBlock?.except).toEqual(expect.arrayContaining(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]));
  });
});

describe("against the real API server (server-side dry run)", () => {
  beforeAll(async () => {
    await ensureNamespace();
  });

  it("accepts `kubectl apply --dry-run=server -k deploy/` with strict field validation", async () => {
    const { stdout } = await kubectl(["apply", "--dry-run=server", "--validate=strict", "-k", DEPLOY_DIR]);
    for (const o of kustomized) expect(stdout, key(o)).toContain(`${o.kind.toLowerCase()}`);
    expect(stdout).toMatch(/deployment\.apps\/edge-alarm (created|configured|unchanged) \(server dry run\)/);
  });

  it("accepts the one-file rendering with handlers and Secret, and the Secret template", async () => {
    const yaml = await renderManifests({ k3s: true, handlersDir: path.join(REPO_ROOT, "handlers"), cluster: "pi-edge-7", secret: { webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/x" } });
    const { stdout } = await kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], { input: yaml });
    expect(stdout).toMatch(/configmap\/edge-alarm-handlers .*\(server dry run\)/);
    expect(stdout).toMatch(/secret\/edge-alarm-feishu .*\(server dry run\)/);
    await kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", path.join(DEPLOY_DIR, "secret.example.yaml")]);
  });
});
