/**
 * `edge-alarm dev` against a real kube-apiserver (test/env): events come from the current
 * context of the kubeconfig, and a new Warning Event shows up as a card.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDev, type DevSession } from "../../../build/dev/dev-session.ts";
import { kubeconfigClient, type KubeClient } from "../../../dispatcher/kube/client.ts";
import { createLogger } from "../../../dispatcher/log.ts";
import { createEvent, createNamespace } from "../../e2e/harness.ts";
import { getTestEnv } from "../../env/use-testenv.ts";

const HANDLER = `import { card, defineHandler, div } from "edge-alarm/sdk";
export default defineHandler({
  match: { type: "Warning" },
  handle: (event) => ({ card: card({ title: "kube " + event.reason, elements: [div(event.message)] }) }),
});
`;

describe("edge-alarm dev with a reachable cluster", () => {
  // The control plane may be shared by concurrent runs: a name of our own.
  const namespace = `dev-loop-${Date.now().toString(36)}`;
  let dir: string;
  let admin: KubeClient;
  let session: DevSession;

  beforeAll(async () => {
    const env = getTestEnv();
    admin = await kubeconfigClient(env.kubeconfigPath);
    await createNamespace(admin, namespace);
    dir = await mkdtemp(path.join(tmpdir(), "edge-alarm-dev-kube-"));
    await writeFile(path.join(dir, "default.ts"), HANDLER);
    const logger = createLogger({ level: "warn", destination: new Writable({ write: (_c, _e, done) => done() }) });
    session = await startDev({ dir, port: 0, cluster: "c", timezone: "UTC", logger, kubeconfig: env.kubeconfigPath, speed: 30, watch: false });
  });
  afterAll(async () => {
    await session?.stop();
    await admin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("watches the kubeconfig's cluster and shows a card for a new Warning", async () => {
    expect(session.source).toMatch(/^kube context \S+ \(https:\/\/127\.0\.0\.1:\d+\)$/);
    await createEvent(admin, { namespace, reason: "DevLoopProbe", message: "from the test" });
    const deadline = Date.now() + 15_000;
    let titles: string[] = [];
    while (Date.now() < deadline) {
      titles = session.inbox.entries().flatMap((e) => (e.kind === "card" ? [(e.card as { header: { title: { content: string } } }).header.title.content] : []));
      if (titles.includes("kube DevLoopProbe")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(titles).toContain("kube DevLoopProbe");
  });
});
