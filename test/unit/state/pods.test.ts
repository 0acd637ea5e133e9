import { afterEach, describe, expect, it, vi } from "vitest";
import type { NodeSnapshot } from "../../../src/domain/pod.js";
import { POD_SIGN_MAX_AGE_MS, REMOVED_NODE_MEMORY_MS } from "../../../src/state/nodes.js";
import { buildHouse } from "../../../src/wiring.js";
import { parseMetrics, sum, type Sample } from "../../helpers/prom.js";
import { container, jobPod } from "../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");

function node(name: string, overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0, deletingSinceMs: null, spot: true, instanceType: "m5.2xlarge", zone: "us-west-2b", nodegroup: "ci-spot", evidence: null, readySinceMs: null, ...overrides };
}

function setup(settleMs = 0) {
  const { state, exposition } = buildHouse({ maxSeriesPerFamily: 1000, interruptionSettleMs: settleMs, processMetrics: false, podResources: true });
  const { nodes, pods } = state.kube!;
  const samples = (): Sample[] => parseMetrics(exposition.families.map((f) => f.render()).join(""));
  return { nodes, pods, samples };
}

const live = { nowMs: T0 + 60_000, observeEndedBuilds: true };

describe("pod state and families", () => {
  it("renders one info series and the resources per live job pod, and drops them with the pod", () => {
    const { pods, samples } = setup();
    pods.upsert(jobPod("p1"), live);
    pods.upsert(jobPod("p1"), live);
    expect(sum(samples(), "gitlab_ci_job_pod_info")).toBe(1);
    expect(samples().find((s) => s.name === "gitlab_ci_job_pod_info")!.labels).toEqual({
      namespace: "gitlab-runner",
      pod: "p1",
      node: "n1",
      project: "acme/api",
      ref: "main",
      job_name: "build",
      job_id: "1",
      pipeline_id: "",
      runner: "r",
    });
    expect(sum(samples(), "gitlab_ci_job_pod_container_resource_requests", { resource: "cpu" })).toBe(2);
    expect(sum(samples(), "gitlab_ci_job_pod_container_resource_limits", { container: "helper", resource: "memory" })).toBe(2 ** 31);
    pods.remove(jobPod("p1"), live.nowMs);
    expect(samples().filter((s) => s.name.startsWith("gitlab_ci_job_pod"))).toEqual([]);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
  });

  it("converges on a re-list: pods gone meanwhile leave, only in the listed namespace", () => {
    const { pods, samples } = setup();
    pods.replace(null, [jobPod("a"), jobPod("b"), jobPod("c", { namespace: "other", uid: "uid-c" })], { ...live, observeEndedBuilds: false });
    pods.replace("gitlab-runner", [jobPod("b")], live);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pod_info").map((s) => s.labels.pod).sort()).toEqual(["b", "c"]);
  });

  it("observes each finished build once, and not the ones that ended before the first list", () => {
    const { pods, samples } = setup();
    const run = (startMinute: number, minutes: number, exitCode: number) => ({ startedAtMs: T0 + startMinute * 60_000, finishedAtMs: T0 + (startMinute + minutes) * 60_000, exitCode });
    const kaniko = (runs: ReturnType<typeof run>[]) => jobPod("p1", { containers: [container("build", { builder: "kaniko", finishedRuns: runs }), container("helper")] });
    pods.replace(null, [kaniko([run(0, 2, 0)])], { ...live, observeEndedBuilds: false });
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_count")).toBe(0);
    pods.upsert(kaniko([run(0, 2, 0), run(3, 5, 1)]), live);
    pods.upsert(kaniko([run(0, 2, 0), run(3, 5, 1)]), live);
    pods.replace(null, [kaniko([run(0, 2, 0), run(3, 5, 1)])], live);
    pods.remove(kaniko([run(0, 2, 0), run(3, 5, 1)]), live.nowMs);
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_count", { builder: "kaniko", project: "acme/api", result: "failure" })).toBe(1);
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_sum")).toBe(300);
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_count")).toBe(1);
  });

  it("does not observe a build killed by its pod's deletion", () => {
    const { pods, samples } = setup();
    const run = (startMinute: number, endMinute: number, exitCode: number) => ({ startedAtMs: T0 + startMinute * 60_000, finishedAtMs: T0 + endMinute * 60_000, exitCode });
    const kaniko = (name: string, runs: ReturnType<typeof run>[], deletionRequestedAtMs: number | null) =>
      jobPod(name, { uid: `uid-${name}`, deletionRequestedAtMs, containers: [container("build", { builder: "kaniko", finishedRuns: runs }), container("helper")] });
    // The job ended; gitlab-runner deleted the pod; the kubelet killed the build container (137).
    pods.upsert(kaniko("deleted", [], null), live);
    pods.remove(kaniko("deleted", [run(0, 9, 137)], T0 + 8 * 60_000), live.nowMs);
    // A build that ended on its own before the deletion counts.
    pods.upsert(kaniko("done", [], null), live);
    pods.remove(kaniko("done", [run(0, 4, 0)], T0 + 5 * 60_000), live.nowMs);
    expect(samples().filter((s) => s.name === "gitlab_ci_image_build_duration_seconds_count").map((s) => [s.labels.result, s.value])).toEqual([["success", 1]]);
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_sum")).toBe(240);
  });

  it("times builds of Kubernetes Job pods with an empty project", () => {
    const { pods, samples } = setup();
    const run = { startedAtMs: T0, finishedAtMs: T0 + 90_000, exitCode: 0 };
    pods.upsert(jobPod("j1", { job: null, containers: [container("buildkit", { builder: "buildkit", finishedRuns: [run] })] }), live);
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_sum", { builder: "buildkit", project: "", result: "success" })).toBe(90);
    expect(sum(samples(), "gitlab_ci_job_pod_info")).toBe(0);
  });
});

describe("node state and families", () => {
  it("counts spot nodes per group and keeps one created timestamp per node", () => {
    const { nodes, samples } = setup();
    nodes.replaceAll([node("n1"), node("n2"), node("n3", { zone: "us-west-2a" }), node("od", { spot: false })], T0);
    expect(sum(samples(), "gitlab_ci_spot_nodes", { zone: "us-west-2b" })).toBe(2);
    expect(sum(samples(), "gitlab_ci_spot_nodes")).toBe(3);
    expect(samples().filter((s) => s.name === "gitlab_ci_spot_node_created_timestamp_seconds").map((s) => s.labels.node).sort()).toEqual(["n1", "n2", "n3"]);
    nodes.remove(node("n3", { zone: "us-west-2a" }), T0 + 3_600_000);
    expect(samples().filter((s) => s.name === "gitlab_ci_spot_nodes").map((s) => s.labels.zone)).toEqual(["us-west-2b"]);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_sum", { zone: "us-west-2a", reason: "unknown" })).toBe(3600);
  });

  it.each([
    ["autoscaler_scale_down"],
    ["spot_interruption"],
    ["rebalance_recommendation"],
    ["karpenter_disruption"],
    ["node_shutdown"],
  ] as const)("observes the lifetime once with reason %s, the sign standing when the node went", (reason) => {
    const { nodes, samples } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n1", { evidence: reason }), T0 + 1000);
    nodes.remove(node("n1", { evidence: reason }), T0 + 7_200_000);
    nodes.remove(node("n1", { evidence: reason }), T0 + 7_300_000);
    nodes.replaceAll([], T0 + 7_400_000);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(1);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_sum", { reason })).toBe(7200);
  });

  it("does not give a node a reason whose sign was withdrawn before it went", () => {
    const { nodes, samples } = setup();
    // cluster-autoscaler cancels a scale-down and untaints; hours later the node vanishes unannounced.
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n1", { evidence: "autoscaler_scale_down" }), T0 + 1000);
    nodes.upsert(node("n1"), T0 + 60_000);
    nodes.remove(node("n1"), T0 + 3_600_000);
    // Karpenter cancels a disruption; later cluster-autoscaler scales the node down.
    nodes.upsert(node("n2"), T0);
    nodes.upsert(node("n2", { evidence: "karpenter_disruption" }), T0 + 1000);
    nodes.upsert(node("n2"), T0 + 60_000);
    nodes.upsert(node("n2", { evidence: "autoscaler_scale_down" }), T0 + 3_000_000);
    nodes.remove(node("n2", { evidence: "autoscaler_scale_down" }), T0 + 3_600_000);
    // A cancelled scale-down, then much later a spot interruption.
    nodes.upsert(node("n3"), T0);
    nodes.upsert(node("n3", { evidence: "autoscaler_scale_down" }), T0 + 1000);
    nodes.upsert(node("n3"), T0 + 60_000);
    nodes.upsert(node("n3", { evidence: "spot_interruption" }), T0 + 3_500_000);
    nodes.remove(node("n3", { evidence: "spot_interruption" }), T0 + 3_600_000);
    const reasons = samples()
      .filter((s) => s.name === "gitlab_ci_spot_node_lifetime_seconds_count")
      .map((s) => [s.labels.reason, s.value])
      .sort();
    expect(reasons).toEqual([
      ["autoscaler_scale_down", 1],
      ["spot_interruption", 1],
      ["unknown", 1],
    ]);
  });

  it("uses the deletion timestamp, and removes nodes missing from a re-list", () => {
    const { nodes, samples } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n1", { deletingSinceMs: T0 + 600_000, evidence: "karpenter_disruption" }), T0 + 600_000);
    nodes.replaceAll([], T0 + 900_000);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_sum", { reason: "karpenter_disruption" })).toBe(600);
    expect(sum(samples(), "gitlab_ci_spot_nodes")).toBe(0);
  });

  it("treats a node recreated under the same name as a new node", () => {
    const { nodes, samples } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n1", { uid: "other", createdAtMs: T0 + 1_800_000 }), T0 + 1_800_000);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(1);
    expect(sum(samples(), "gitlab_ci_spot_nodes")).toBe(1);
    expect(sum(samples(), "gitlab_ci_spot_node_created_timestamp_seconds")).toBe((T0 + 1_800_000) / 1000);
  });
});

describe("interrupted job pods", () => {
  it("counts a pod deleted from a tainted node once, with the node's reason", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1", { evidence: "spot_interruption" }), T0);
    pods.upsert(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live);
    pods.remove(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live.nowMs);
    pods.remove(jobPod("p1"), live.nowMs);
    pods.replace(null, [], live);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total")).toEqual([
      { name: "gitlab_ci_job_pods_interrupted_total", labels: { project: "acme/api", reason: "spot_interruption", nodegroup: "ci-spot", zone: "us-west-2b" }, value: 1 },
    ]);
  });

  it("counts pods deleted after their node went, with the node's reason", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1", { evidence: "autoscaler_scale_down" }), T0);
    pods.upsert(jobPod("p1"), live);
    pods.upsert(jobPod("p2"), live);
    // The DELETED event carries the node's last state, taint included.
    nodes.remove(node("n1", { evidence: "autoscaler_scale_down" }), T0 + 1000);
    pods.remove(jobPod("p1", { disruption: "DeletionByPodGC" }), T0 + 30_000);
    // Gone while the watch was down: the re-list tells.
    pods.replace(null, [], { nowMs: T0 + 40_000, observeEndedBuilds: true });
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total", { reason: "autoscaler_scale_down" })).toBe(2);
    // The node is gone, but its group and zone are remembered with its reason.
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total", { nodegroup: "ci-spot", zone: "us-west-2b" })).toBe(2);
  });

  it("counts a pod evicted from a node never seen with an empty node group and zone", () => {
    const { pods, samples } = setup();
    pods.upsert(jobPod("p1", { nodeName: "never-seen", disruption: "EvictionByEvictionAPI" }), live);
    pods.remove(jobPod("p1", { nodeName: "never-seen", disruption: "EvictionByEvictionAPI" }), live.nowMs);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => s.labels)).toEqual([{ project: "acme/api", reason: "eviction", nodegroup: "", zone: "" }]);
  });

  it("counts a node vanishing without a sign as unknown, but only for a while", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1"), live);
    pods.upsert(jobPod("p2"), live);
    nodes.remove(node("n1"), T0);
    pods.remove(jobPod("p1"), T0 + 20_000);
    pods.remove(jobPod("p2"), T0 + REMOVED_NODE_MEMORY_MS + 1);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => [s.labels.reason, s.value])).toEqual([["unknown", 1]]);
  });

  it("does not count pods found gone at a re-list on a node without a sign also found gone", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n2"), T0);
    pods.upsert(jobPod("p1"), live);
    pods.upsert(jobPod("p2", { nodeName: "n2" }), live);
    // n1's removal is seen as it happens; n2 is only found missing once the watch is back.
    nodes.remove(node("n1"), T0 + 1000);
    nodes.replaceAll([], T0 + 2000);
    pods.replace(null, [], { nowMs: T0 + 3000, observeEndedBuilds: true });
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => [s.labels.reason, s.value])).toEqual([["unknown", 1]]);
  });

  it("derives the reason from the pod's condition when the node stays", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1", { disruption: "PreemptionByScheduler" }), live);
    pods.remove(jobPod("p1", { disruption: "PreemptionByScheduler" }), live.nowMs);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total", { reason: "scheduler_preemption" })).toBe(1);
  });

  it("takes a pod failed by node shutdown as a sign for its node and its siblings", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1"), live);
    pods.upsert(jobPod("other", { job: null, containers: [], phase: "Failed", statusReason: "NodeShutdown", finishedAtMs: live.nowMs - 20_000 }), live);
    pods.remove(jobPod("p1"), live.nowMs);
    nodes.remove(node("n1"), live.nowMs + 120_000);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total", { reason: "node_shutdown" })).toBe(1);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "node_shutdown" })).toBe(1);
  });

  it("lets an eviction the pod tells of wait for its node's sign, which arrives on another watch", () => {
    const { nodes, pods, samples } = setup(5000);
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live);
    pods.remove(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live.nowMs);
    expect(pods.undecidedCount).toBe(1);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
    nodes.upsert(node("n1", { evidence: "spot_interruption" }), live.nowMs + 800);
    pods.decideWaitingInterruptions(live.nowMs + 800);
    pods.decideWaitingInterruptions(live.nowMs + 10_000);
    expect(pods.undecidedCount).toBe(0);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total")).toEqual([
      { name: "gitlab_ci_job_pods_interrupted_total", labels: { project: "acme/api", reason: "spot_interruption", nodegroup: "ci-spot", zone: "us-west-2b" }, value: 1 },
    ]);
  });

  it("counts a waiting eviction with the pod's own reason once the wait is over", () => {
    const { nodes, pods, samples } = setup(5000);
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live);
    pods.remove(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live.nowMs);
    pods.decideWaitingInterruptions(live.nowMs + 4999);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
    pods.decideWaitingInterruptions(live.nowMs + 5000);
    pods.decideWaitingInterruptions(live.nowMs + 6000);
    // A taint shown after the decision does not count the pod again.
    nodes.upsert(node("n1", { evidence: "spot_interruption" }), live.nowMs + 7000);
    pods.decideWaitingInterruptions(live.nowMs + 7000);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => [s.labels.reason, s.value])).toEqual([["eviction", 1]]);
  });

  it("decides a waiting eviction when its node's sign arrives, the node state telling the pod state itself", () => {
    const { nodes, pods, samples } = setup(5000);
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live);
    pods.remove(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live.nowMs);
    expect(pods.undecidedCount).toBe(1);
    nodes.upsert(node("n1", { evidence: "karpenter_disruption" }), live.nowMs + 800);
    expect(pods.undecidedCount).toBe(0);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => [s.labels.reason, s.value])).toEqual([["karpenter_disruption", 1]]);
  });

  describe("the pod state's own settle timer", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("decides a waiting eviction with the pod's reason once the wait is over, and stops when nothing waits", () => {
      vi.useFakeTimers({ now: live.nowMs });
      const { nodes, pods, samples } = setup(5000);
      nodes.upsert(node("n1"), T0);
      pods.upsert(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live);
      pods.remove(jobPod("p1", { disruption: "EvictionByEvictionAPI" }), live.nowMs);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(4000);
      expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
      vi.advanceTimersByTime(1500);
      expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => [s.labels.reason, s.value])).toEqual([["eviction", 1]]);
      expect(pods.undecidedCount).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("starts no timer when nothing waits, and close() stops one that runs", () => {
      vi.useFakeTimers({ now: live.nowMs });
      const { nodes, pods } = setup(5000);
      nodes.upsert(node("n1"), T0);
      pods.upsert(jobPod("p1"), live);
      pods.remove(jobPod("p1"), live.nowMs);
      expect(vi.getTimerCount()).toBe(0);
      pods.upsert(jobPod("p2", { disruption: "EvictionByEvictionAPI" }), live);
      pods.remove(jobPod("p2", { disruption: "EvictionByEvictionAPI" }), live.nowMs);
      expect(vi.getTimerCount()).toBe(1);
      pods.close();
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it("does not hold back a pod whose node already shows why", () => {
    const { nodes, pods, samples } = setup(5000);
    nodes.upsert(node("n1", { evidence: "karpenter_disruption" }), T0);
    pods.upsert(jobPod("p1"), live);
    pods.remove(jobPod("p1"), live.nowMs);
    expect(pods.undecidedCount).toBe(0);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total", { reason: "karpenter_disruption" })).toBe(1);
  });

  it("does not count pods ending normally on a node whose scale-down was cancelled", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n1", { evidence: "autoscaler_scale_down" }), T0 + 1000);
    nodes.upsert(node("n1"), T0 + 30_000);
    // gitlab-runner deletes a job's pod while it still runs, once the job is over.
    for (const name of ["a", "b", "c"]) {
      pods.upsert(jobPod(name), live);
      pods.remove(jobPod(name), live.nowMs);
    }
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
    // Tainted again, this time for good: the pods it drains now were interrupted.
    nodes.upsert(node("n1", { evidence: "autoscaler_scale_down" }), live.nowMs + 1000);
    pods.upsert(jobPod("d", { disruption: "EvictionByEvictionAPI" }), live);
    pods.remove(jobPod("d", { disruption: "EvictionByEvictionAPI" }), live.nowMs + 2000);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pods_interrupted_total").map((s) => [s.labels.reason, s.value])).toEqual([["autoscaler_scale_down", 1]]);
  });

  it("does not take a pod failed by a node shutdown long ago for a sign", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    // Left over from a graceful shutdown two days ago, after which the node came back.
    const leftover = jobPod("leftover", { job: null, containers: [], phase: "Failed", statusReason: "Terminated", finishedAtMs: T0 - 2 * 86_400_000 });
    pods.replace(null, [leftover, jobPod("p1"), jobPod("p2")], { nowMs: T0, observeEndedBuilds: false });
    pods.remove(jobPod("p1"), T0 + 60_000);
    pods.remove(jobPod("p2"), T0 + 120_000);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
    nodes.remove(node("n1"), T0 + 3_600_000);
    expect(sum(samples(), "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "unknown" })).toBe(1);
  });

  it("lets a recent node-shutdown failure stand only until the node is Ready again, or for a while", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n2"), T0);
    pods.upsert(jobPod("shutdown-1", { job: null, containers: [], phase: "Failed", statusReason: "NodeShutdown", finishedAtMs: T0 + 10_000 }), { nowMs: T0 + 20_000, observeEndedBuilds: true });
    pods.upsert(jobPod("shutdown-2", { job: null, containers: [], phase: "Failed", statusReason: "NodeShutdown", nodeName: "n2", finishedAtMs: T0 + 10_000 }), { nowMs: T0 + 20_000, observeEndedBuilds: true });
    expect(nodes.signOf("n1", T0 + 20_000)).toBe("node_shutdown");
    // n1 rebooted: Ready again since after the failure.
    nodes.upsert(node("n1", { readySinceMs: T0 + 180_000 }), T0 + 180_000);
    pods.upsert(jobPod("p1"), { nowMs: T0 + 200_000, observeEndedBuilds: true });
    pods.remove(jobPod("p1"), T0 + 240_000);
    // n2 said nothing more, but the failure is old by now.
    pods.upsert(jobPod("p2", { nodeName: "n2" }), { nowMs: T0 + 200_000, observeEndedBuilds: true });
    pods.remove(jobPod("p2", { nodeName: "n2" }), T0 + 10_000 + POD_SIGN_MAX_AGE_MS + 1);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
  });

  it("does not count pods that finished or left a healthy node", () => {
    const { nodes, pods, samples } = setup();
    nodes.upsert(node("n1", { evidence: "spot_interruption" }), T0);
    nodes.upsert(node("n2"), T0);
    pods.upsert(jobPod("done", { phase: "Succeeded" }), live);
    pods.remove(jobPod("done", { phase: "Succeeded" }), live.nowMs);
    pods.upsert(jobPod("healthy", { nodeName: "n2" }), live);
    pods.remove(jobPod("healthy", { nodeName: "n2" }), live.nowMs);
    expect(sum(samples(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
  });
});

describe("one shard of several", () => {
  /** Shard `shard` of 2: the pods and nodes that hash to it are its own. */
  function shard(shard: number) {
    const { state, exposition } = buildHouse({ maxSeriesPerFamily: 1000, processMetrics: false, sharding: { shard, total: 2 } });
    const samples = (): Sample[] => parseMetrics(exposition.families.map((f) => f.render()).join(""));
    return { ...state.kube!, samples };
  }

  it("tracks the job pods of its own projects and the other pods of its own UIDs, and together the shards track each once", () => {
    const shards = [shard(0), shard(1)];
    const pods = [
      ...Array.from({ length: 20 }, (_, i) => jobPod(`job-${i}`, { projectId: 100 + i, job: { jobId: String(i), project: `acme/p${i}`, ref: "main", jobName: "build", pipelineId: "", runner: "r" } })),
      ...Array.from({ length: 20 }, (_, i) => jobPod(`unplaced-${i}`, { projectId: null })),
    ];
    for (const s of shards) s.pods.replace(null, pods, live);
    const tracked = shards.map((s) => s.samples().filter((x) => x.name === "gitlab_ci_job_pod_info").map((x) => x.labels.pod!));
    expect(tracked[0]!.length).toBeGreaterThan(0);
    expect(tracked[1]!.length).toBeGreaterThan(0);
    expect([...tracked[0]!, ...tracked[1]!].sort()).toEqual(pods.map((p) => p.name).sort());
    expect(shards.map((s) => s.pods.size).reduce((a, b) => a + b)).toBe(40);
  });

  it("keeps every node, exports the spot nodes whose name is its own, and counts a pod's interruption on the pod's shard", () => {
    const shards = [shard(0), shard(1)];
    const names = Array.from({ length: 10 }, (_, i) => `spot-${i}`);
    for (const s of shards) s.nodes.replaceAll(names.map((n) => node(n)), T0);
    expect(shards.map((s) => s.nodes.size)).toEqual([10, 10]);
    const exported = shards.map((s) => s.samples().filter((x) => x.name === "gitlab_ci_spot_node_created_timestamp_seconds").map((x) => x.labels.node!));
    expect([...exported[0]!, ...exported[1]!].sort()).toEqual([...names].sort());
    expect(shards.map((s) => sum(s.samples(), "gitlab_ci_spot_nodes")).reduce((a, b) => a + b)).toBe(10);

    // A job pod of one shard on a node another exports: its node's removal decides the reason on both.
    const pod = jobPod("victim", { nodeName: "spot-3", projectId: 7 });
    for (const s of shards) s.pods.upsert(pod, live);
    for (const s of shards) {
      s.nodes.upsert(node("spot-3", { evidence: "spot_interruption" }), T0 + 1000);
      s.pods.remove(pod, T0 + 2000);
      s.nodes.remove(node("spot-3", { evidence: "spot_interruption", deletingSinceMs: T0 + 3000 }), T0 + 3000);
    }
    expect(shards.map((s) => sum(s.samples(), "gitlab_ci_job_pods_interrupted_total", { reason: "spot_interruption" })).sort()).toEqual([0, 1]);
    expect(shards.map((s) => sum(s.samples(), "gitlab_ci_spot_node_lifetime_seconds_count")).sort()).toEqual([0, 1]);
  });
});
