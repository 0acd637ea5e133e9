import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../../src/simulator/gitlab/index.js";
import { buildSpotNode, ClusterCapacity, KubeWorld, ManualTimeline, nodePool, type CapacityTiming } from "../../../../src/simulator/kube/index.js";

const START = Date.UTC(2026, 2, 10, 9, 0, 0);
const TIMING: CapacityTiming = { scheduleMs: 1000, provisionMs: 45_000, nodeReadyMs: 30_000, warmStartMs: 3000, coldPullMs: 25_000, pullRetryMs: 10_000 };

function cluster(warmNodes = 1, options: { packing?: "spread" | "binpack"; onStart?: (namespace: string, name: string) => void } = {}) {
  const clock = new ManualClock(START);
  const timeline = new ManualTimeline(clock);
  const kube = new KubeWorld({ now: clock.now });
  for (let i = 0; i < warmNodes; i++) kube.addNode(buildSpotNode({ name: `warm-${i}`, nodegroup: "ci-spot", createdAt: new Date(START - 3_600_000) }));
  const capacity = new ClusterCapacity({ kube, timeline, timing: TIMING, pools: [nodePool({ name: "ci-spot", capacityType: "spot", podsPerNode: 2 })], ...options });
  let jobId = 100;
  const launch = (options: { configError?: boolean } = {}) =>
    capacity.launch({ projectId: 1, projectPath: "acme/api", jobId: ++jobId, jobName: "test", ref: "main", suffix: `job-${jobId}` }, { pool: "ci-spot", ...options });
  const pod = (name: string) => kube.pod("gitlab-runner", name)!;
  const stages = () => capacity.waiting().map((w) => w.reason).sort();
  return { clock, timeline, kube, capacity, launch, pod, stages };
}

const scheduled = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === "PodScheduled");
const waitingReasons = (pod: V1Pod) => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((s) => s.state?.waiting?.reason ?? (s.state?.running ? "running" : "?"));

describe("the simulated cluster's capacity", () => {
  it("binds pods to a warm node with room, and records the rest Unschedulable until a node it launches is Ready", () => {
    const { timeline, kube, capacity, launch, pod, stages } = cluster();
    const names = [launch(), launch(), launch()];
    expect(stages()).toEqual(["scheduling", "scheduling", "scheduling"]);
    expect(scheduled(pod(names[0]!))).toBeUndefined();
    timeline.advance(1000);
    expect(stages()).toEqual(["container_creating", "container_creating", "unschedulable"]);
    expect(scheduled(pod(names[0]!))).toMatchObject({ status: "True", lastTransitionTime: new Date(START + 1000) });
    expect(waitingReasons(pod(names[0]!))).toEqual(["PodInitializing", "PodInitializing", "PodInitializing"]);
    expect(scheduled(pod(names[2]!))).toMatchObject({ status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod." });
    expect(pod(names[2]!).spec!.nodeName).toBeUndefined();
    expect(capacity.provisioningOf("ci-spot")).toBe(1);

    timeline.advance(3000);
    expect(stages()).toEqual(["unschedulable"]);
    expect(capacity.startups).toEqual([
      { nodegroup: "ci-spot", capacityType: "spot", newNode: false, startupSeconds: 4, schedulingSeconds: 1 },
      { nodegroup: "ci-spot", capacityType: "spot", newNode: false, startupSeconds: 4, schedulingSeconds: 1 },
    ]);
    // The node object comes 45 s after the scale-up, NotReady; the pod is refused it until it is Ready.
    timeline.advance(43_000);
    const fresh = kube.nodes().find((n) => n.metadata!.name !== "warm-0")!;
    expect(fresh.metadata!.creationTimestamp).toEqual(new Date(START + 46_000));
    expect(fresh.spec!.taints!.map((t) => t.key)).toEqual(["node.kubernetes.io/not-ready"]);
    expect(fresh.metadata!.labels!["eks.amazonaws.com/nodegroup"]).toBe("ci-spot");
    timeline.advance(30_000);
    expect(stages()).toEqual(["container_creating"]);
    expect(pod(names[2]!).spec!.nodeName).toBe(fresh.metadata!.name);
    // A cold pull on the new node.
    timeline.advance(25_000);
    expect(stages()).toEqual([]);
    expect(capacity.startups[2]).toEqual({ nodegroup: "ci-spot", capacityType: "spot", newNode: true, startupSeconds: 101, schedulingSeconds: 76 });
  });

  it("launches no node for a withheld pool until it is restored, and frees a slot when a job ends", () => {
    const { timeline, kube, capacity, launch, stages } = cluster();
    capacity.withhold("ci-spot");
    const names = [launch(), launch(), launch(), launch()];
    timeline.advance(10 * 60_000);
    expect(stages()).toEqual(["unschedulable", "unschedulable"]);
    expect(kube.nodes()).toHaveLength(1);
    capacity.finish("gitlab-runner", names[0]!);
    timeline.advance(1000 + 3000);
    expect(stages()).toEqual(["unschedulable"]);
    capacity.restore("ci-spot");
    timeline.advance(45_000 + 30_000 + 25_000);
    expect(stages()).toEqual([]);
    expect(kube.nodes()).toHaveLength(2);
    // The slot freed on the warm node went to the oldest waiting pod; the last one waited for the new node.
    expect(capacity.startups.map((s) => s.newNode)).toEqual([false, false, false, true]);
    expect(capacity.startups.at(-1)!.startupSeconds).toBe(600 + 4 + 45 + 30 + 25);
  });

  it("fails pulls on a fresh node while the registry fails, ErrImagePull then ImagePullBackOff, and starts once it heals", () => {
    const { timeline, capacity, launch, pod, stages } = cluster(0);
    capacity.failPulls();
    const name = launch();
    timeline.advance(1000 + 45_000 + 30_000);
    expect(stages()).toEqual(["container_creating"]);
    timeline.advance(10_000);
    expect(stages()).toEqual(["image_pull"]);
    expect(waitingReasons(pod(name))).toContain("ErrImagePull");
    timeline.advance(10_000);
    expect(waitingReasons(pod(name))).toContain("ImagePullBackOff");
    capacity.healRegistry();
    timeline.advance(10_000);
    expect(stages()).toEqual(["image_pull"]);
    timeline.advance(25_000);
    expect(stages()).toEqual([]);
    expect(capacity.startups).toEqual([{ nodegroup: "ci-spot", capacityType: "spot", newNode: true, startupSeconds: 131, schedulingSeconds: 76 }]);
  });

  it("keeps pods unscheduled without a verdict while the scheduler is paused, and a config error waits until fixed", () => {
    const { timeline, capacity, launch, pod, stages } = cluster();
    capacity.pauseScheduler();
    const name = launch({ configError: true });
    timeline.advance(60_000);
    expect(stages()).toEqual(["scheduling"]);
    capacity.resumeScheduler();
    timeline.advance(3000);
    expect(stages()).toEqual(["other"]);
    expect(waitingReasons(pod(name))).toContain("CreateContainerConfigError");
    capacity.fixConfig("gitlab-runner", name);
    expect(stages()).toEqual([]);
    expect(capacity.startups.map((s) => s.startupSeconds)).toEqual([63]);
  });

  it("spreads pods over the nodes by default, and packs them onto the busiest node with room when told", () => {
    const nodesOf = (packing: "spread" | "binpack") => {
      const { timeline, launch, pod } = cluster(3, { packing });
      const names = [launch(), launch(), launch()];
      timeline.advance(1000);
      return names.map((name) => pod(name).spec!.nodeName);
    };
    expect(new Set(nodesOf("spread")).size).toBe(3);
    const packed = nodesOf("binpack");
    // Two a node: the first node full, then the next.
    expect(packed[0]).toBe(packed[1]);
    expect(packed[2]).not.toBe(packed[0]);
  });

  it("tells of each pod whose containers start", () => {
    const started: string[] = [];
    const { timeline, launch } = cluster(1, { onStart: (namespace, name) => started.push(`${namespace}/${name}`) });
    const names = [launch(), launch(), launch()];
    timeline.advance(1000 + 3000);
    expect(started).toEqual(names.slice(0, 2).map((name) => `gitlab-runner/${name}`));
    timeline.advance(45_000 + 30_000 + 25_000);
    expect(started).toHaveLength(3);
  });

  it("forgets a pod deleted while it waits", () => {
    const { kube, timeline, capacity, launch, stages } = cluster();
    capacity.withhold("ci-spot");
    launch();
    launch();
    const third = launch();
    timeline.advance(1000);
    kube.deletePod("gitlab-runner", third);
    expect(stages()).toEqual(["container_creating", "container_creating"]);
  });
});
