import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { buildRunnerJobPod, buildSpotNode, KubeWorld, NODE_TAINTS, podRunning, taintNode, type KubeFaults } from "../../src/simulator/kube/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

const tried: string[] = [];
afterAll(() => {
  console.log(`Kubernetes fault injection: ${tried.length} faults tried (${tried.join(", ")})`);
});

const CREATED = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * 3_600_000);

function jobPod(jobId: number, node: string): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 1, projectPath: "acme/api", jobId, jobName: `job-${jobId}`, ref: "main", nodeName: node, suffix: `j${jobId}` });
  podRunning(pod, new Date());
  return pod;
}

function cluster(): KubeWorld {
  const world = new KubeWorld();
  for (const name of ["spot-a", "spot-b", "spot-c"]) world.addNode(buildSpotNode({ name, nodegroup: "ci-spot", createdAt: CREATED }));
  // spot-b has had its interruption notice: its pods are known victims whenever they go.
  world.updateNode("spot-b", (node) => taintNode(node, NODE_TAINTS.spotInterruption));
  for (const [id, node] of [[1, "spot-a"], [2, "spot-a"], [3, "spot-b"], [4, "spot-b"], [6, "spot-c"]] as const) world.addPod(jobPod(id, node));
  return world;
}

/** What the exporter shows of the cluster, and what the cluster holds. */
const shownPods = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_job_pod_info")
    .map((s) => `${s.labels.pod} ${s.labels.node} ${s.labels.ref}`)
    .sort();
const truePods = (world: KubeWorld) => world.pods().map((p) => `${p.metadata!.name} ${p.spec!.nodeName} ${p.metadata!.annotations!["job.runner.gitlab.com/ref"]}`).sort();
const restarts = (samples: Sample[]) => sum(samples, "gitlab_ci_exporter_kube_watch_restarts_total");

/**
 * One fault: while it lasts the exporter keeps serving what it knew; the cluster changes (a pod
 * added, one deleted, one changed, two spot nodes removed with their pods); once the fault ends
 * the exporter converges on the cluster, counts its restarts, and observes each node's lifetime
 * and each interrupted pod exactly once.
 */
async function survive(name: string, arm: (faults: KubeFaults, env: KubeStack) => void, disarm: (faults: KubeFaults) => void = (f) => f.clear()): Promise<void> {
  tried.push(name);
  const env = await startKubeStack({ KUBE_INTERRUPTION_SETTLE_SECONDS: "0.2" }, cluster());
  const { kubeWorld: world, kube } = env;
  try {
    const before = await eventually(async () => {
      const samples = await env.stack.scrape();
      expect(shownPods(samples)).toEqual(truePods(world));
      return samples;
    });

    arm(kube.faults, env);
    const during = await env.stack.scrape();
    expect(shownPods(during)).toEqual(shownPods(before));

    world.addPod(jobPod(5, "spot-a"));
    world.deletePod("gitlab-runner", world.pods().find((p) => p.metadata!.name!.endsWith("j1"))!.metadata!.name!);
    world.updatePod("gitlab-runner", world.pods().find((p) => p.metadata!.name!.endsWith("j2"))!.metadata!.name!, (pod) => {
      pod.metadata!.annotations!["job.runner.gitlab.com/ref"] = "hotfix";
    });
    // spot-b and spot-c go away with their job pods (reclaimed: node first, pods collected after).
    const removedAtMs = Date.now();
    for (const name of ["spot-b", "spot-c"]) {
      world.deleteNode(name);
      for (const pod of world.pods().filter((p) => p.spec!.nodeName === name)) world.deletePod("gitlab-runner", pod.metadata!.name!);
    }

    // The fault lasts until the exporter has noticed it on both watches and restarted them (a
    // stall only after the watchdog's limit), serving what it knew meanwhile.
    await eventually(
      async () => {
        const samples = await env.stack.scrape();
        for (const resource of ["pods", "nodes"]) expect(sum(samples, "gitlab_ci_exporter_kube_watch_restarts_total", { resource }), resource).toBeGreaterThan(sum(before, "gitlab_ci_exporter_kube_watch_restarts_total", { resource }));
      },
      15_000,
      100,
    );
    const stillServing = await env.stack.scrape();
    expect(sum(stillServing, "gitlab_ci_exporter_build_info")).toBe(1);
    disarm(kube.faults);

    const after = await eventually(
      async () => {
        const samples = await env.stack.scrape();
        expect(shownPods(samples)).toEqual(truePods(world));
        expect(sum(samples, "gitlab_ci_spot_nodes")).toBe(1);
        expect(sum(samples, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(2);
        expect(sum(samples, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
        expect(restarts(samples)).toBeGreaterThan(restarts(before));
        return samples;
      },
      20_000,
      100,
    );
    const convergedAtMs = Date.now();
    // A removal missed while blind is observed when the re-list finds it: late by the outage at most.
    const lifetimes = after.filter((s) => s.name === "gitlab_ci_spot_node_lifetime_seconds_sum").map((s) => s.value);
    expect(lifetimes.reduce((a, b) => a + b)).toBeGreaterThanOrEqual((2 * (removedAtMs - CREATED.getTime())) / 1000 - 0.001);
    expect(lifetimes.reduce((a, b) => a + b)).toBeLessThanOrEqual((2 * (convergedAtMs - CREATED.getTime())) / 1000);
    expect(sum(after, "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "spot_interruption" })).toBe(1);
    expect(sum(after, "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "unknown" })).toBe(1);
    // spot-b's pods were victims of its known interruption; spot-c's may have ended before it went.
    expect(sum(after, "gitlab_ci_job_pods_interrupted_total", { reason: "spot_interruption" })).toBe(2);
    expect(Math.min(...after.filter((s) => s.name === "gitlab_ci_exporter_kube_last_event_timestamp_seconds").map((s) => s.value))).toBeGreaterThan(Math.max(...before.filter((s) => s.name === "gitlab_ci_exporter_kube_last_event_timestamp_seconds").map((s) => s.value)));

    // Nothing is observed again later.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const later = await env.stack.scrape();
    expect(sum(later, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(2);
    expect(sum(later, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
  } finally {
    await env.close();
  }
}

describe.concurrent("the exporter survives Kubernetes API faults and converges afterwards", () => {
  it("watch streams closed", () => survive("stream closed", (f) => f.dropStreams()));
  it("410 Expired as an ERROR event in the stream", () =>
    survive("410 ERROR event", (f) => {
      f.expireNextWatch();
      f.dropStreams();
    }));
  it("HTTP 410 Gone answering the watch", () =>
    survive("HTTP 410", (f) => {
      f.httpGoneOnWatch();
      f.dropStreams();
    }));
  it("500 on list while the watch must re-list", () =>
    survive("500 on list", (f) => {
      f.failLists({ status: 500 });
      f.expireNextWatch();
      f.dropStreams();
    }));
  it("a watch that stalls silently", () =>
    survive(
      "silent stall",
      (f) => f.stallWatches(),
      (f) => f.resume(),
    ));
  it("the API server restarting with new resourceVersions", () =>
    survive("API server restart", (f, env) => {
      env.kubeWorld.restart({ newResourceVersions: true });
      f.dropStreams();
    }));
});

describe("staleness during a Kubernetes outage", () => {
  it("stops advancing the last-event timestamp while lists fail, and keeps the pods shown", async () => {
    tried.push("lists failing for seconds");
    const env = await startKubeStack({}, cluster());
    try {
      const before = await eventually(async () => {
        const samples = await env.stack.scrape();
        expect(shownPods(samples)).toEqual(truePods(env.kubeWorld));
        return samples;
      });
      env.kube.faults.failLists({ status: 503 });
      env.kube.faults.httpGoneOnWatch();
      env.kube.faults.dropStreams();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const frozen = await env.stack.scrape();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const later = await env.stack.scrape();
      const lastEvent = (s: Sample[]) => s.filter((x) => x.name === "gitlab_ci_exporter_kube_last_event_timestamp_seconds").map((x) => `${x.labels.resource} ${x.value}`).sort();
      expect(lastEvent(later)).toEqual(lastEvent(frozen));
      expect(restarts(later)).toBeGreaterThan(restarts(before));
      expect(shownPods(later)).toEqual(shownPods(before));
      env.kube.faults.clear();
      await eventually(async () => expect(lastEvent(await env.stack.scrape())).not.toEqual(lastEvent(frozen)), 15_000, 100);
    } finally {
      await env.close();
    }
  });
});
