/**
 * `edge-alarm manifests`: the objects of the deploy/ kustomize base as one YAML file, for
 * `kubectl apply -f` or K3S's auto-deploy directory, which applies single files only and knows
 * no kustomize. Optionally with the handlers ConfigMap (so a new edge node comes up alarming)
 * and with the webhook Secret taken from the environment (never from a flag: flags end up in
 * shell history and process lists).
 *
 * The base uses only `resources` and `images`; any other kustomization field fails here, so the
 * two renderings cannot drift apart silently (test/deploy/manifests.test.ts compares them with
 * `kubectl kustomize`).
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML, { type Document } from "yaml";
import { assertTimezone } from "../../dispatcher/time-format.ts";
import { buildConfigMap } from "../configmap.ts";
import { UserError } from "../errors.ts";
import { parse, UsageError, type Command } from "./args.ts";

export const DEPLOY_DIR = fileURLToPath(new URL("../../deploy/", import.meta.url));
export const K3S_MANIFESTS_DIR = "/var/lib/rancher/k3s/server/manifests";

const SUPPORTED_KUSTOMIZATION_FIELDS = new Set(["apiVersion", "kind", "resources", "images"]);
const CONTAINER = "edge-alarm";

export interface ManifestOptions {
  /** Header for K3S's auto-deploy directory instead of for kubectl. */
  k3s?: boolean;
  /** Bundle these handlers into the handlers ConfigMap and include it. */
  handlersDir?: string;
  /** EDGE_ALARM_CLUSTER, shown on every card. */
  cluster?: string;
  /** TZ of the dispatcher (card times). */
  timezone?: string;
  /** The image reference, overriding kustomization.yaml's `images`. */
  image?: string;
  /** Include the webhook Secret from these values (EDGE_ALARM_FEISHU_WEBHOOK / _SECRET). */
  secret?: { webhook: string; signingSecret?: string };
  /** Where the base lives; default this package's deploy/. */
  deployDir?: string;
  onWarning?: (warning: string) => void;
}

interface Kustomization {
  resources?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

/** kustomize's image transformer for the one image the base uses: "name[:tag]" → newName:newTag. */
function transformImage(image: string, rule: { name: string; newName?: string; newTag?: string }): string | undefined {
  const [name, tag] = image.split(/:(?=[^/]*$)/);
  if (name !== rule.name) return undefined;
  return `${rule.newName ?? name}${rule.newTag ? `:${rule.newTag}` : tag ? `:${tag}` : ""}`;
}

function containerIndex(doc: Document): number {
  const containers = doc.getIn(["spec", "template", "spec", "containers"]) as YAML.YAMLSeq | undefined;
  const items = containers?.items ?? [];
  const i = items.findIndex((c) => YAML.isMap(c) && c.get("name") === CONTAINER);
  if (i < 0) throw new Error(`deploy/: the Deployment has no container named ${CONTAINER}`);
  return i;
}

function setEnv(doc: Document, name: string, value: string): void {
  const c = containerIndex(doc);
  const env = doc.getIn(["spec", "template", "spec", "containers", c, "env"]) as YAML.YAMLSeq | undefined;
  const i = (env?.items ?? []).findIndex((e) => YAML.isMap(e) && e.get("name") === name);
  if (i < 0) throw new Error(`deploy/: the Deployment sets no ${name}`);
  doc.setIn(["spec", "template", "spec", "containers", c, "env", i, "value"], value);
}

/** The deploy/ objects as YAML documents, with the image transform and the options applied. */
async function baseDocuments(opts: ManifestOptions): Promise<Document[]> {
  const dir = opts.deployDir ?? DEPLOY_DIR;
  const kustomization = YAML.parse(await readFile(path.join(dir, "kustomization.yaml"), "utf8")) as Kustomization & Record<string, unknown>;
  for (const field of Object.keys(kustomization)) {
    if (!SUPPORTED_KUSTOMIZATION_FIELDS.has(field)) {
      throw new Error(`deploy/kustomization.yaml uses "${field}", which edge-alarm manifests does not render: extend build/commands/manifests.ts`);
    }
  }
  const docs: Document[] = [];
  for (const file of kustomization.resources ?? []) {
    for (const doc of YAML.parseAllDocuments(await readFile(path.join(dir, file), "utf8"))) {
      if (doc.errors.length) throw new Error(`deploy/${file}: ${doc.errors[0]?.message}`);
      if (doc.contents === null) continue;
      docs.push(doc);
    }
  }
  for (const doc of docs) {
    if (doc.get("kind") !== "Deployment") continue;
    const c = containerIndex(doc);
    const imagePath = ["spec", "template", "spec", "containers", c, "image"];
    const image = String(doc.getIn(imagePath));
    let transformed = image;
    for (const rule of kustomization.images ?? []) transformed = transformImage(transformed, rule) ?? transformed;
    doc.setIn(imagePath, opts.image ?? transformed);
    if (opts.cluster !== undefined) setEnv(doc, "EDGE_ALARM_CLUSTER", opts.cluster);
    if (opts.timezone !== undefined) setEnv(doc, "TZ", opts.timezone);
  }
  return docs;
}

function secretDocument(secret: NonNullable<ManifestOptions["secret"]>): string {
  const doc = new YAML.Document({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "edge-alarm-feishu", namespace: "monitoring", labels: { "app.kubernetes.io/name": "edge-alarm" } },
    type: "Opaque",
    stringData: { webhook: secret.webhook, ...(secret.signingSecret ? { secret: secret.signingSecret } : {}) },
  });
  doc.commentBefore = " The webhook Secret, from EDGE_ALARM_FEISHU_WEBHOOK/_SECRET at render time. Keep this file private.";
  return doc.toString({ lineWidth: 0 });
}

function header(opts: ManifestOptions): string {
  const lines = opts.k3s
    ? [
        `# edge-alarm for K3S auto-deploy: copy to ${K3S_MANIFESTS_DIR}/edge-alarm.yaml on the server node.`,
        "# K3S applies it like kubectl apply at start and whenever the file changes (AddOn kube-system/edge-alarm);",
        "# deleting the file does not delete the objects. Change them here: kubectl edits are overwritten on the next apply.",
      ]
    : ["# edge-alarm: kubectl apply -f <this file>"];
  lines.push("# Rendered by `edge-alarm manifests` from deploy/ (kustomize base).");
  if (!opts.secret) lines.push("# The webhook Secret is not included: see deploy/secret.example.yaml.");
  if (!opts.handlersDir) lines.push("# The handlers ConfigMap is not included: edge-alarm build handlers | kubectl apply -f -");
  return `${lines.join("\n")}\n`;
}

/** One YAML stream: the base objects, the handlers ConfigMap and the Secret before the Deployment. */
export async function renderManifests(opts: ManifestOptions = {}): Promise<string> {
  if (opts.timezone !== undefined) {
    try {
      assertTimezone(opts.timezone);
    } catch (err) {
      throw new UserError(`--timezone: ${(err as Error).message}`);
    }
  }
  const docs = await baseDocuments(opts);
  const extra: string[] = [];
  if (opts.secret) extra.push(secretDocument(opts.secret));
  if (opts.handlersDir) {
    const built = await buildConfigMap(opts.handlersDir, { namespace: "monitoring", ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) });
    for (const w of built.warnings) opts.onWarning?.(w);
    extra.push(built.yaml);
  }
  const rendered = docs.map((d) => ({ kind: String(d.get("kind")), text: d.toString({ lineWidth: 0 }) }));
  // Everything the pod needs exists before the Deployment does.
  const at = rendered.findIndex((r) => r.kind === "Deployment");
  const texts = rendered.map((r) => r.text);
  texts.splice(at < 0 ? texts.length : at, 0, ...extra);
  return header(opts) + texts.map((t) => (t.startsWith("---") ? t : `---\n${t}`)).join("");
}

export const manifestsCommand: Command = {
  name: "manifests",
  usage: `manifests         The deploy/ objects as one YAML file (kubectl apply -f, or K3S auto-deploy)
                      --k3s               for ${K3S_MANIFESTS_DIR}
                      --with-handlers DIR include the handlers ConfigMap built from DIR
                      --cluster NAME      EDGE_ALARM_CLUSTER (shown on every card)
                      --timezone TZ       card time zone (default Asia/Shanghai)
                      --image REF         the image (default from deploy/kustomization.yaml)
                      --secret-from-env   include the Secret from EDGE_ALARM_FEISHU_WEBHOOK/_SECRET
                      --out FILE|-        where to write (default: - for stdout)`,
  async run(args) {
    const { values, positionals } = parse(args, {
      k3s: { type: "boolean" },
      "with-handlers": { type: "string" },
      cluster: { type: "string" },
      timezone: { type: "string" },
      image: { type: "string" },
      "secret-from-env": { type: "boolean" },
      out: { type: "string" },
    });
    if (positionals.length) throw new UsageError("manifests takes no arguments");
    let secret: ManifestOptions["secret"];
    if (values["secret-from-env"]) {
      const webhook = process.env.EDGE_ALARM_FEISHU_WEBHOOK?.trim();
      if (!webhook) throw new UserError("--secret-from-env: EDGE_ALARM_FEISHU_WEBHOOK is not set");
      const signingSecret = process.env.EDGE_ALARM_FEISHU_SECRET?.trim();
      secret = { webhook, ...(signingSecret ? { signingSecret } : {}) };
    }
    const yaml = await renderManifests({
      ...(values.k3s ? { k3s: true } : {}),
      ...(values["with-handlers"] ? { handlersDir: values["with-handlers"] } : {}),
      ...(values.cluster !== undefined ? { cluster: values.cluster } : {}),
      ...(values.timezone !== undefined ? { timezone: values.timezone } : {}),
      ...(values.image !== undefined ? { image: values.image } : {}),
      ...(secret ? { secret } : {}),
      onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
    });
    const out = values.out ?? "-";
    if (out === "-") {
      process.stdout.write(yaml);
      return;
    }
    await writeFile(out, yaml, { mode: secret ? 0o600 : 0o644 });
    // writeFile keeps the mode of an existing file: make sure a token never sits in a readable one.
    if (secret) await chmod(out, 0o600);
    process.stderr.write(`wrote ${out}${secret ? " (contains the webhook token: mode 600)" : ""}\n`);
  },
};
