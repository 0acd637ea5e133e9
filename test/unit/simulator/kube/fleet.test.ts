import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { CiFleetScenario, GitLabWorld, ManualClock } from "../../../../src/simulator/gitlab/index.js";
import { KubeFleet, KubeWorld, NODE_TAINTS, RUNNER_CLEANUP_MS, type WatchEvent } from "../../../../src/simulator/kube/index.js";

/**
 * The simulated fleet plays a CI morning and lunch on both worlds at once; the two must tell one
 * story: every running GitLab job has its pod, every pod its job, and every pod a node removal
 * took down failed its job with runner_system_failure.
 */
const MINUTE = 60_000;
const START = Date.UTC(2026, 2, 2, 9, 0, 0);

function play() {
  const clock = new ManualClock(START);
  const gitlab = new GitLabWorld({ now: clock.now });
  const scenario = new CiFleetScenario({
    world: gitlab,
    clock,
    seed: 7,
    projects: 20,
    activeProjects: 8,
    tagSets: [["docker", "linux"], ["kaniko"], ["docker", "spot"], []],
    runners: [
      { id: 1, description: "eks-spot-runner" },
      { id: 2, description: "eks-ondemand-runner" },
    ],
    jobsPerMinute: 40,
    meanQueueSeconds: 5,
    meanRunSeconds: 240,
    scriptFailureRatio: 0.1,
    systemFailureRatio: 0.02,
    canceledRatio: 0.03,
  });
  const kube = new KubeWorld({ now: clock.now, historySize: 1_000_000 });
  const events: WatchEvent[] = [];
  kube.onChange((event) => events.push(event));
  const fleet = new KubeFleet({ kube, scenario, gitlabUrl: "https://gitlab.example.com", spotNodes: 12, onDemandNodes: 4, karpenterNodes: 3 });
  const initialSpot = fleet.spotNodeNames();
  return { clock, gitlab, scenario, kube, events, fleet, initialSpot };
}

type Played = ReturnType<typeof play>;

const jobIdOf = (pod: { metadata?: { annotations?: Record<string, string> } }) => Number(pod.metadata?.annotations?.["job.runner.gitlab.com/id"]);
const groupOf = (node: { metadata?: { labels?: Record<string, string> } }) => node.metadata?.labels?.["eks.amazonaws.com/nodegroup"] ?? node.metadata?.labels?.["karpenter.sh/nodepool"] ?? "ondemand";

/** Every running job has exactly one pod; every pod belongs to a running job or one that ended just now. */
function checkConsistent({ gitlab, kube, clock }: Played): void {
  const podsByJob = new Map<number, number>();
  for (const pod of kube.pods()) {
    if (pod.metadata?.namespace !== "gitlab-runner") continue;
    const id = jobIdOf(pod);
    podsByJob.set(id, (podsByJob.get(id) ?? 0) + 1);
    const job = gitlab.job(id)!;
    if (job.status !== "running") expect(clock.now() - job.finishedAt!, `pod of job ${id} (${job.status})`).toBeLessThanOrEqual(RUNNER_CLEANUP_MS);
  }
  for (const job of gitlab.jobs()) if (job.status === "running") expect(podsByJob.get(job.id), `pods of running job ${job.id}`).toBe(1);
}

describe("the simulated fleet", () => {
  const played = play();
  const { clock, gitlab, scenario, kube, events, fleet, initialSpot } = played;
  const spotGroupSize = () => kube.nodes().filter((n) => groupOf(n) === "ci-spot").length;
  const sizes: Record<string, number> = {};
  const at = new Map<number, () => void>([
    [30, () => fleet.spotInterruption(fleet.spotNodeNames()[0]!)],
    [45, () => fleet.remove(fleet.spotNodeNames()[1]!, "rebalance_recommendation")],
    [60, () => fleet.remove(fleet.karpenterNodeNames()[0]!, "karpenter_disruption")],
    [
      90,
      () => {
        sizes.beforeLunch = spotGroupSize();
        fleet.lunch({ nodes: 4, backAfterMs: 60 * MINUTE });
      },
    ],
    [120, () => (sizes.atLunch = spotGroupSize())],
    [160, () => (sizes.afterLunch = spotGroupSize())],
  ]);
  for (let minute = 0; minute < 180; minute++) {
    at.get(minute)?.();
    for (let slice = 0; slice < 6; slice++) {
      scenario.step(MINUTE / 6);
      checkConsistent(played);
    }
  }
  fleet.dispose();
  scenario.dispose();

  it("keeps a pod for every running GitLab job and a running job for every pod, all the way", () => {
    // Checked above after every step; a busy morning it was.
    expect(scenario.stats.started).toBeGreaterThan(3000);
    expect(clock.now() - START).toBe(180 * MINUTE);
  });

  it("shows each removal's taint on its node before the node goes", () => {
    const taints = new Set<string>();
    for (const event of events) {
      if (event.resource !== "nodes") continue;
      for (const taint of (event.object as { spec?: { taints?: Array<{ key: string }> } }).spec?.taints ?? []) taints.add(taint.key);
    }
    expect([...taints].sort()).toEqual(Object.values(NODE_TAINTS).map((t) => t.key).filter((key) => key !== NODE_TAINTS.gceImpendingTermination.key).sort());
    const deletedTainted = events.filter((e) => e.resource === "nodes" && e.type === "DELETED" && ((e.object as { spec?: { taints?: unknown[] } }).spec?.taints ?? []).length > 0);
    expect(deletedTainted).toHaveLength(3 + 4);
  });

  it("evicts the pods of removed nodes with DisruptionTarget and fails their jobs as runner_system_failure", () => {
    const evicted = events.filter((e) => e.resource === "pods" && e.type === "DELETED" && (e.object as { status?: { conditions?: Array<{ type: string }> } }).status?.conditions?.some((c) => c.type === "DisruptionTarget"));
    expect(evicted.length).toBeGreaterThan(10);
    for (const event of evicted) {
      const job = gitlab.job(jobIdOf(event.object))!;
      expect([job.status, job.failureReason]).toEqual(["failed", "runner_system_failure"]);
    }
    // Pods of jobs that ended otherwise leave still Running, deleted by the runner, never evicted.
    const normal = events.filter((e) => e.resource === "pods" && e.type === "DELETED" && !evicted.includes(e) && e.object.metadata?.namespace === "gitlab-runner");
    expect(normal.length).toBeGreaterThan(1000);
    expect(new Set(normal.map((e) => (e.object as { status?: { phase?: string } }).status?.phase))).toEqual(new Set(["Running"]));
  });

  it("scales the spot group down at lunch and back up after", () => {
    expect(sizes.beforeLunch).toBe(12);
    expect(sizes.atLunch).toBe(8);
    expect(sizes.afterLunch).toBe(12);
  });

  it("spreads jobs over the spot nodes, not only spot-tagged jobs on some of them", () => {
    const untagged = new Map<string, number>(initialSpot.map((name) => [name, 0]));
    for (const event of events) {
      if (event.resource !== "pods" || event.type !== "ADDED" || event.object.metadata?.namespace !== "gitlab-runner") continue;
      const node = (event.object as V1Pod).spec?.nodeName ?? "";
      if (untagged.has(node) && !gitlab.job(jobIdOf(event.object))!.tags.includes("spot")) untagged.set(node, untagged.get(node)! + 1);
    }
    expect([...untagged.values()].filter((count) => count === 0)).toEqual([]);
  });
});

describe("the simulated fleet with capacity: pods scheduled, nodes launched, a capacity outage", () => {
  const clock = new ManualClock(START);
  const gitlab = new GitLabWorld({ now: clock.now });
  const scenario = new CiFleetScenario({
    world: gitlab,
    clock,
    seed: 11,
    projects: 20,
    activeProjects: 8,
    tagSets: [["docker", "spot"], ["docker", "linux"], []],
    runners: [{ id: 1, description: "eks-spot-runner" }],
    jobsPerMinute: 30,
    meanQueueSeconds: 5,
    meanRunSeconds: 180,
    scriptFailureRatio: 0.1,
    systemFailureRatio: 0,
  });
  const kube = new KubeWorld({ now: clock.now, historySize: 1_000_000 });
  const fleet = new KubeFleet({ kube, scenario, gitlabUrl: "https://gitlab.example.com", spotNodes: 8, onDemandNodes: 4, capacity: { podsPerNode: 8 } });
  const capacity = fleet.capacity!;
  const seen: Record<string, unknown> = {};
  const spotNodesCreatedAfter = (ms: number) => kube.nodes().filter((n) => groupOf(n) === "ci-spot" && new Date(n.metadata!.creationTimestamp!).getTime() > ms).length;
  const pendingSpotJobs = () => gitlab.jobs().filter((j) => j.status === "pending" && j.tags.includes("spot")).length;
  const outageAt = START + 15 * MINUTE;
  for (let minute = 0; minute < 45; minute++) {
    if (minute === 15) {
      seen.startsBefore = capacity.startups.length;
      fleet.capacityOutage({ nodes: 6, forMs: 12 * MINUTE, runnersFullAfterMs: 4 * MINUTE, stalledTags: ["docker", "spot"] });
    }
    if (minute === 18) seen.unschedulable = capacity.waiting().filter((w) => w.reason === "unschedulable").length;
    if (minute === 25) {
      seen.newSpotNodesDuringOutage = spotNodesCreatedAfter(outageAt);
      seen.pendingSpot = pendingSpotJobs();
    }
    for (let slice = 0; slice < 6; slice++) scenario.step(MINUTE / 6);
  }
  fleet.dispose();
  scenario.dispose();

  it("starts pods on warm nodes at first, the startups of each observed", () => {
    expect(seen.startsBefore).toBeGreaterThan(300);
    expect(capacity.startups.slice(0, seen.startsBefore as number).filter((s) => s.newNode)).toEqual([]);
  });

  it("leaves spot pods Unschedulable while the group gets no node, and the spot-tagged jobs pending once the runners are full", () => {
    expect(seen.unschedulable).toBeGreaterThan(5);
    expect(seen.newSpotNodesDuringOutage).toBe(0);
    expect(seen.pendingSpot).toBeGreaterThan(5);
  });

  it("launches spot nodes once capacity is back, and the pods that waited start on them", () => {
    expect(spotNodesCreatedAfter(outageAt)).toBeGreaterThan(0);
    const cold = capacity.startups.filter((s) => s.newNode && s.nodegroup === "ci-spot");
    expect(cold.length).toBeGreaterThan(5);
    // Bound no sooner than the node was Ready, 30 s after it was created (after the pod).
    expect(Math.min(...cold.map((s) => s.schedulingSeconds))).toBeGreaterThanOrEqual(30);
    expect(capacity.waiting().filter((w) => w.reason === "unschedulable")).toEqual([]);
    // Every running job still has its pod.
    const podJobs = new Set(kube.pods().filter((p) => p.metadata?.namespace === "gitlab-runner").map(jobIdOf));
    for (const job of gitlab.jobs()) if (job.status === "running") expect(podJobs.has(job.id), `pod of running job ${job.id}`).toBe(true);
  });
});

describe("the simulated fleet as the demo runs it: jobs waiting for their pods, pods bin-packed, idle nodes scaled down", () => {
  const clock = new ManualClock(START);
  const gitlab = new GitLabWorld({ now: clock.now });
  const scenario = new CiFleetScenario({
    world: gitlab,
    clock,
    seed: 5,
    projects: 10,
    activeProjects: 5,
    tagSets: [["docker", "spot"]],
    runners: [{ id: 1, description: "eks-spot-runner" }],
    jobsPerMinute: 12,
    meanQueueSeconds: 5,
    meanRunSeconds: 240,
    scriptFailureRatio: 0,
    systemFailureRatio: 0,
    canceledRatio: 0,
  });
  const kube = new KubeWorld({ now: clock.now, historySize: 1_000_000 });
  const events: Array<WatchEvent & { at: number }> = [];
  kube.onChange((event) => events.push({ ...event, at: clock.now() }));
  const fleet = new KubeFleet({
    kube,
    scenario,
    gitlabUrl: "https://gitlab.example.com",
    spotNodes: 10,
    onDemandNodes: 3,
    capacity: { podsPerNode: 8, packing: "binpack", jobsWaitForPods: true },
    delays: { runnerCleanupMs: 300, nodeRemovalMs: 700 },
  });
  const podsOn = (node: string) => kube.pods().filter((p) => p.spec?.nodeName === node).length;
  const seen: { busiest?: number[]; heldJobs?: number[]; spotBefore?: number } = {};
  for (let minute = 0; minute < 60; minute++) {
    if (minute === 30) {
      seen.busiest = fleet.busiestSpotNodes().map(podsOn);
      seen.spotBefore = fleet.spotNodeNames().length;
      // No spot capacity, twice the load: the pods that do not fit wait, their jobs held.
      fleet.withholdSpot(20 * MINUTE);
      scenario.adjust({ jobsPerMinute: 24 });
    }
    if (minute === 40) seen.heldJobs = heldJobIds();
    fleet.scaleDownIdle({ unneededMs: 10 * MINUTE, minNodes: 2 });
    for (let slice = 0; slice < 6; slice++) scenario.step(MINUTE / 6);
  }
  fleet.dispose();
  scenario.dispose();

  function heldJobIds(): number[] {
    const waiting = new Set(kube.pods().filter((p) => p.metadata?.namespace === "gitlab-runner" && !p.spec?.nodeName).map(jobIdOf));
    return gitlab.jobs().filter((j) => j.status === "running" && waiting.has(j.id)).map((j) => j.id);
  }

  it("scales idle nodes down, never one with a pod, and keeps some of each group", () => {
    const removed = events.filter((e) => e.resource === "nodes" && e.type === "DELETED");
    expect(removed.length).toBeGreaterThan(0);
    for (const event of removed) expect((event.object as V1Node).spec?.taints?.map((t) => t.key)).toEqual([NODE_TAINTS.autoscalerScaleDown.key]);
    const evicted = events.filter((e) => e.resource === "pods" && (e.object as V1Pod).status?.conditions?.some((c) => c.type === "DisruptionTarget"));
    expect(evicted).toEqual([]);
    expect(kube.nodes().filter((n) => groupOf(n) === "ci-ondemand").length).toBeGreaterThanOrEqual(2);
    // 12 jobs a minute of 4 min each fill about six nodes of eight: idle ones went.
    expect(seen.spotBefore).toBeLessThan(10);
  });

  it("removes a node and the pods of finished jobs after the delays it is given", () => {
    const tainted = events.find((e) => e.resource === "nodes" && e.type === "MODIFIED" && ((e.object as V1Node).spec?.taints ?? []).length > 0)!;
    const deleted = events.find((e) => e.resource === "nodes" && e.type === "DELETED" && e.object.metadata!.name === tainted.object.metadata!.name)!;
    expect(deleted.at - tainted.at).toBe(700);
    const job = gitlab.jobs().find((j) => j.status === "success")!;
    const podGone = events.find((e) => e.resource === "pods" && e.type === "DELETED" && jobIdOf(e.object) === job.id)!;
    expect(podGone.at - job.finishedAt!).toBe(300);
  });

  it("packs pods onto the busiest nodes, and names the busiest first", () => {
    expect(seen.busiest!.length).toBeGreaterThan(2);
    expect(seen.busiest).toEqual([...seen.busiest!].sort((a, b) => b - a));
    expect(seen.busiest![0]).toBe(8);
  });

  it("holds the jobs whose pods wait for a node: running in GitLab, not ending until their pod runs", () => {
    expect(seen.heldJobs!.length).toBeGreaterThan(20);
    // Each ended only after its pod got a node and started, its run counted from there.
    let ran = 0;
    for (const id of seen.heldJobs!) {
      const job = gitlab.job(id)!;
      const started = events.find((e) => e.resource === "pods" && e.type === "MODIFIED" && jobIdOf(e.object) === id && (e.object as V1Pod).status?.phase === "Running");
      if (job.finishedAt === null) continue;
      ran++;
      expect(started?.at, `pod of job ${id}`).toBeGreaterThan(START + 40 * MINUTE);
      expect(job.finishedAt, `job ${id}`).toBeGreaterThan(started!.at);
    }
    expect(ran).toBeGreaterThan(10);
    // Those whose pod never started are still running.
    const podStarted = (id: number) => events.some((e) => e.resource === "pods" && jobIdOf(e.object) === id && (e.object as V1Pod).status?.phase === "Running");
    for (const id of seen.heldJobs!.filter((i) => !podStarted(i))) expect(gitlab.job(id)!.status).toBe("running");
  });
});
