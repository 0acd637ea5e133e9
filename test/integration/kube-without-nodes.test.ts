import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDisruptionTarget, buildRunnerJobPod, KubeWorld, podRunning } from "../../src/simulator/kube/index.js";
import { eventually, sum } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * KUBE_NODES_ENABLED=false, for an install with namespaced rights only: the exporter never asks
 * for nodes (which it could not read), is ready on the pod list alone, and has no spot families.
 */
describe("without the node watch", () => {
  let env: KubeStack;
  beforeAll(async () => {
    const world = new KubeWorld();
    const pod = buildRunnerJobPod({ projectId: 6, projectPath: "acme/namespaced", jobId: 6001, jobName: "test", ref: "main", nodeName: "spot-a", suffix: "nn1" });
    podRunning(pod, new Date());
    world.addPod(pod);
    // startKubeStack waits for /readyz: with a node watch that could never list, it would not come.
    env = await startKubeStack({ KUBE_NODES_ENABLED: "false", KUBE_NAMESPACES: "gitlab-runner", KUBE_INTERRUPTION_SETTLE_SECONDS: "0.2" }, world);
  });
  afterAll(() => env?.close());

  it("is ready on the pod list alone, never asks for nodes, and has no spot families", async () => {
    env.kube.faults.forbid("/api/v1/nodes");
    const response = await fetch(`${env.stack.exporter.url}/readyz`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { sources: Array<{ name: string; synced: boolean }> }).sources).toContainEqual(expect.objectContaining({ name: "kubernetes", synced: true }));
    const metrics = await (await fetch(`${env.stack.exporter.url}/metrics`)).text();
    expect(metrics).not.toMatch(/gitlab_ci_spot_node/);
    const samples = await env.stack.scrape();
    expect(sum(samples, "gitlab_ci_job_pod_info", { project: "acme/namespaced" })).toBe(1);
    expect(samples.filter((s) => s.name.startsWith("gitlab_ci_exporter_kube_")).map((s) => `${s.name} ${s.labels.resource}`).sort()).toEqual([
      "gitlab_ci_exporter_kube_last_event_timestamp_seconds pods",
      "gitlab_ci_exporter_kube_watch_restarts_total pods",
    ]);
    expect(env.kube.requests.count((r) => r.path.startsWith("/api/v1/nodes"))).toBe(0);
  });

  it("still counts interruptions the pods tell of themselves", async () => {
    const name = env.kubeWorld.pods()[0]!.metadata!.name!;
    env.kubeWorld.updatePod("gitlab-runner", name, (pod) => addDisruptionTarget(pod, "EvictionByEvictionAPI"));
    env.kubeWorld.deletePod("gitlab-runner", name);
    await eventually(async () => expect(sum(await env.stack.scrape(), "gitlab_ci_job_pods_interrupted_total", { project: "acme/namespaced", reason: "eviction", nodegroup: "", zone: "" })).toBe(1));
  });
});
