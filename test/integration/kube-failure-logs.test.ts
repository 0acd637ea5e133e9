import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KubeWorld, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { startStack, type Stack } from "../helpers/stack.js";

describe("Kubernetes failures in the log, against the simulated API server", () => {
  let kube: KubeSimulator | undefined;
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.close();
    await kube?.close();
  });

  it("nodes the exporter may not read: the API server's address, the path and the rule to grant", async () => {
    kube = await startKubeSimulator({ world: new KubeWorld() });
    kube.faults.forbid("/api/v1/nodes");
    const kubeconfig = join(mkdtempSync(join(tmpdir(), "kube-failure-logs-")), "kubeconfig");
    writeFileSync(kubeconfig, kube.kubeconfig());
    const logs: string[] = [];
    stack = await startStack({ kubeconfig, logs, env: { GITLAB_PROJECTS: "acme/api" } });
    const host = new URL(kube.url).host;
    const deadline = Date.now() + 10_000;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "Kubernetes watch restarting" && l.resource === "nodes");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(line).toMatchObject({
      source: "kubernetes",
      reason: "list failed",
      err: expect.stringContaining(`HTTP 403 Forbidden from ${host}/api/v1/nodes`),
      hint: "the exporter may not read nodes: grant get, list and watch on nodes (a ClusterRole), or set KUBE_NODES_ENABLED=false",
    });
  });
});
