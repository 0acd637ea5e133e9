import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDisruptionTarget, buildRunnerJobPod, buildSpotNode, KubeWorld, NODE_TAINTS, podRunning, taintNode } from "../../src/simulator/kube/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * A load balancer or proxy in front of the API server ends idle watch streams cleanly, long
 * before the timeout they asked for. The exporter watches again from where each stream stopped:
 * nothing is listed again, nothing is missed, nothing is observed twice.
 */
function jobPod(jobId: number, node: string): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 4, projectPath: "acme/cuts", jobId, jobName: `job-${jobId}`, ref: "main", nodeName: node, suffix: `c${jobId}` });
  podRunning(pod, new Date());
  return pod;
}

const shownPods = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_job_pod_info")
    .map((s) => `${s.labels.pod} ${s.labels.ref}`)
    .sort();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("watch streams cut cleanly before their timeout", () => {
  let env: KubeStack;
  beforeAll(async () => {
    const world = new KubeWorld();
    for (const name of ["spot-a", "spot-b"]) world.addNode(buildSpotNode({ name, createdAt: new Date(Date.now() - 3_600_000) }));
    for (const [id, node] of [[1, "spot-a"], [2, "spot-b"], [3, "spot-b"]] as const) world.addPod(jobPod(id, node));
    env = await startKubeStack({ KUBE_WATCH_STALL_SECONDS: "20", KUBE_INTERRUPTION_SETTLE_SECONDS: "0.2" }, world);
  });
  afterAll(() => env?.close());

  it("are watched again from their resourceVersion, without a list, each cut counted as a restart", async () => {
    const { kubeWorld: world, kube } = env;
    const truth = () => world.pods().map((p) => `${p.metadata!.name} ${p.metadata!.annotations!["job.runner.gitlab.com/ref"]}`).sort();
    const before = await eventually(async () => {
      const samples = await env.stack.scrape();
      expect(shownPods(samples)).toEqual(truth());
      return samples;
    });
    const lists = () => kube.requests.count((r) => r.kind === "list");
    const listsBefore = lists();

    const cuts = 3;
    for (let cut = 0; cut < cuts; cut++) {
      kube.faults.endStreams();
      // The cluster moves on between cuts, and right after each.
      world.addPod(jobPod(10 + cut, "spot-a"));
      world.updatePod("gitlab-runner", world.pods().find((p) => p.metadata!.name!.endsWith("c1"))!.metadata!.name!, (pod) => {
        pod.metadata!.annotations!["job.runner.gitlab.com/ref"] = `release-${cut}`;
      });
      await eventually(() => expect(kube.requests.count((r) => r.kind === "watch" && r.ended === undefined)).toBe(2));
      await sleep(100);
    }
    // spot-b is interrupted: tainted, drained, removed.
    world.updateNode("spot-b", (node) => taintNode(node, NODE_TAINTS.spotInterruption));
    kube.faults.endStreams();
    for (const pod of world.pods().filter((p) => p.spec!.nodeName === "spot-b")) {
      world.updatePod("gitlab-runner", pod.metadata!.name!, (p) => addDisruptionTarget(p, "EvictionByEvictionAPI"));
      world.deletePod("gitlab-runner", pod.metadata!.name!);
    }
    world.deleteNode("spot-b");

    const after = await eventually(
      async () => {
        const samples = await env.stack.scrape();
        expect(shownPods(samples)).toEqual(truth());
        expect(sum(samples, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(1);
        expect(sum(samples, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
        return samples;
      },
      10_000,
      100,
    );
    expect(lists()).toBe(listsBefore);
    for (const resource of ["pods", "nodes"]) {
      expect(sum(after, "gitlab_ci_exporter_kube_watch_restarts_total", { resource }) - sum(before, "gitlab_ci_exporter_kube_watch_restarts_total", { resource })).toBe(cuts + 1);
    }
    expect(sum(after, "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "spot_interruption" })).toBe(1);
    expect(sum(after, "gitlab_ci_job_pods_interrupted_total", { reason: "spot_interruption" })).toBe(2);

    await sleep(500);
    const later = await env.stack.scrape();
    expect(sum(later, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(1);
    expect(sum(later, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
    expect(lists()).toBe(listsBefore);
  });
});
