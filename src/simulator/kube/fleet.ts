import type { V1Node, V1Taint } from "@kubernetes/client-node";
import type { CiFleetScenario, SimJob, SimProject } from "../gitlab/index.js";
import {
  NODE_TAINTS,
  addDisruptionTarget,
  buildKubernetesJobPod,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  podRunning,
  type RunnerJobPodOptions,
  podTerminated,
  taintNode,
} from "./builders.js";
import { ClusterCapacity, nodePool, type CapacityTiming } from "./capacity.js";
import type { KubeWorld } from "./world.js";

export interface KubeFleetOptions {
  readonly kube: KubeWorld;
  readonly scenario: CiFleetScenario;
  readonly gitlabUrl: string;
  /** Spot nodes of the EKS managed node group `ci-spot`, scaled by cluster-autoscaler. */
  readonly spotNodes: number;
  readonly onDemandNodes: number;
  /** Spot nodes of the Karpenter NodePool `ci-burst`. */
  readonly karpenterNodes?: number;
  /** Jobs whose name or tags mention these run the Kaniko executor image. */
  readonly kanikoImage?: string;
  readonly namespace?: string;
  /**
   * Pods go through scheduling and image pulls (`ClusterCapacity`) instead of running at once:
   * each node takes `podsPerNode` job pods, and a pool that is full waits for the autoscaler.
   * Node groups are then grown by the autoscaler, not replaced at once after a spot interruption.
   */
  readonly capacity?: {
    readonly podsPerNode: number;
    readonly timing?: Partial<CapacityTiming>;
    readonly packing?: "spread" | "binpack";
    /**
     * A job's run begins when its pod starts (`scenario.holdRun`), as with gitlab-runner's
     * Kubernetes executor: a job whose pod waits for a node stays running, and does not end.
     */
    readonly jobsWaitForPods?: boolean;
  };
  /** The runner's cleanup and a node's removal take `RUNNER_CLEANUP_MS` and `NODE_REMOVAL_MS` unless told (a faster play). */
  readonly delays?: { readonly runnerCleanupMs?: number; readonly nodeRemovalMs?: number };
}

/** How long after its job ends gitlab-runner deletes the pod. */
export const RUNNER_CLEANUP_MS = 1000;
/** From a node's taint to the node object's deletion: the drain, then the instance's termination. */
export const NODE_REMOVAL_MS = 2000;

const ZONES = ["us-west-2a", "us-west-2b", "us-west-2c"];
const SPOT_TYPES = ["m6i.2xlarge", "c6i.4xlarge", "m5.2xlarge"];

type Pool = "spot" | "karpenter" | "ondemand";

/** The node group of each pool, as its nodes' labels name it. */
const NODEGROUPS: Record<Pool, string> = { spot: "ci-spot", karpenter: "ci-burst", ondemand: "ci-ondemand" };

/**
 * The ways a node leaves the fleet: the taint its remover puts on it first, and whether capacity
 * comes back (a spot interruption is replaced by the node group or NodePool; a scale-down is not,
 * the capacity was not needed).
 */
export const NODE_REMOVALS = {
  /** cluster-autoscaler scales an underused node down. */
  autoscaler_scale_down: { taint: NODE_TAINTS.autoscalerScaleDown, replaced: false },
  /** aws-node-termination-handler relays the two-minute spot interruption notice. */
  spot_interruption: { taint: NODE_TAINTS.spotInterruption, replaced: true },
  /** aws-node-termination-handler drains on a rebalance recommendation. */
  rebalance_recommendation: { taint: NODE_TAINTS.rebalanceRecommendation, replaced: true },
  /** Karpenter consolidates or replaces a drifted node. */
  karpenter_disruption: { taint: NODE_TAINTS.karpenterDisrupted, replaced: true },
} as const satisfies Record<string, { taint: V1Taint; replaced: boolean }>;

export type NodeRemoval = keyof typeof NODE_REMOVALS;

/**
 * The Kubernetes half of the simulated fleet, driven by the GitLab scenario: a runner pod per
 * started job on a spot or on-demand node (the least busy one of its pool), deleted by the runner
 * once the job is over, and the ways nodes go away (cluster-autoscaler scale-down, at lunch
 * several at once; spot interruptions and rebalance recommendations; Karpenter disruptions),
 * each tainting the node, evicting its pods with a `DisruptionTarget` condition and failing their
 * jobs as `runner_system_failure`, so both sides of the exporter see one consistent story.
 */
export class KubeFleet {
  private readonly podOfJob = new Map<number, { namespace: string; name: string; node: string }>();
  private nodeSerial = 0;
  /** Starts of runner pods, for the share that goes to spot capacity. */
  private placements = 0;
  private readonly namespace: string;
  /** Since when each node of a managed group has had no pod, as cluster-autoscaler's scale-down tracks it. */
  private readonly idleSince = new Map<string, number>();
  private detach: (() => void) | undefined;
  /** The scheduler, autoscaler and registry, when pods go through them. */
  readonly capacity: ClusterCapacity | undefined;

  constructor(private readonly options: KubeFleetOptions) {
    this.namespace = options.namespace ?? "gitlab-runner";
    if (options.capacity) {
      const { podsPerNode, timing, packing, jobsWaitForPods } = options.capacity;
      this.capacity = new ClusterCapacity({
        kube: options.kube,
        timeline: { now: () => options.kube.now, schedule: (delayMs, action) => options.scenario.schedule(delayMs, action) },
        ...(timing ? { timing } : {}),
        ...(packing ? { packing } : {}),
        ...(jobsWaitForPods ? { onStart: (_namespace: string, name: string) => this.podStarted(name) } : {}),
        pools: [
          nodePool({ name: NODEGROUPS.spot, capacityType: "spot", podsPerNode, provider: "eks", instanceType: "m6i.2xlarge" }),
          nodePool({ name: NODEGROUPS.karpenter, capacityType: "spot", podsPerNode, provider: "karpenter", instanceType: "c6i.4xlarge" }),
          nodePool({ name: NODEGROUPS.ondemand, capacityType: "on_demand", podsPerNode, instanceType: "m6i.xlarge" }),
        ],
      });
    }
    for (let i = 0; i < options.spotNodes; i++) this.addNode("spot");
    for (let i = 0; i < (options.karpenterNodes ?? 0); i++) this.addNode("karpenter");
    for (let i = 0; i < options.onDemandNodes; i++) this.addNode("ondemand");
    this.detach = options.scenario.attach({
      onJobStarted: (job, project) => this.startPod(job, project),
      onJobFinished: (job) => this.finishPod(job),
    });
  }

  dispose(): void {
    this.detach?.();
    this.detach = undefined;
    this.capacity?.dispose();
  }

  /**
   * A stuck queue: the cloud reclaims `nodes` spot nodes of the managed group and has no spot
   * capacity left, so for `forMs` the group gets no node; job pods stay Unschedulable (GitLab
   * calls their jobs running), and once the runners are at their concurrency limit the jobs
   * with `stalledTags` stay pending, from `runnersFullAfterMs` on. Needs `capacity`.
   */
  capacityOutage(options: { nodes: number; forMs: number; runnersFullAfterMs: number; stalledTags: readonly string[] }): void {
    const { scenario } = this.options;
    this.withholdSpot(options.forMs);
    for (const name of this.nodesOf("spot").slice(0, options.nodes)) this.spotInterruption(name);
    scenario.schedule(options.runnersFullAfterMs, () => scenario.stall(options.stalledTags));
    scenario.schedule(options.forMs, () => scenario.unstall(options.stalledTags));
  }

  /** No spot capacity to be had for `forMs`: the managed spot group gets no node meanwhile. Needs `capacity`. */
  withholdSpot(forMs: number): void {
    const capacity = this.capacity;
    if (!capacity) throw new Error("withholding capacity needs the fleet's capacity option");
    capacity.withhold(NODEGROUPS.spot);
    this.options.scenario.schedule(forMs, () => capacity.restore(NODEGROUPS.spot));
  }

  /** cluster-autoscaler removes an underused node: tainted, its pods evicted, then it goes. */
  scaleDown(nodeName: string): void {
    this.remove(nodeName, "autoscaler_scale_down");
  }

  /** The cloud reclaims a spot instance: the termination handler taints and drains it. */
  spotInterruption(nodeName: string): void {
    this.remove(nodeName, "spot_interruption");
  }

  /**
   * Lunch: fewer pipelines, so cluster-autoscaler scales `nodes` of the least busy spot nodes of
   * the managed group down, one after the other, and scales back up `backAfterMs` later.
   */
  lunch(options: { nodes: number; backAfterMs: number; everyMs?: number }): void {
    const { scenario } = this.options;
    const candidates = this.nodesOf("spot").sort((a, b) => this.podsOn(a) - this.podsOn(b));
    const chosen = candidates.slice(0, Math.min(options.nodes, candidates.length - 1));
    chosen.forEach((name, i) => scenario.schedule(i * (options.everyMs ?? 1000), () => this.scaleDown(name)));
    scenario.schedule(options.backAfterMs, () => {
      for (let i = 0; i < chosen.length; i++) this.addNode("spot");
    });
  }

  /**
   * cluster-autoscaler's scale-down: a node of the managed spot or on-demand group that has held
   * no pod for `unneededMs` is removed, keeping at least `minNodes` in each group. Job pods are
   * not safe to evict, so a node with one is never a candidate. Call it every minute or so.
   */
  scaleDownIdle(options: { unneededMs: number; minNodes: number }): void {
    const { kube } = this.options;
    const busy = new Set<string>();
    for (const pod of kube.pods()) if (pod.spec?.nodeName) busy.add(pod.spec.nodeName);
    const left = { spot: this.nodesOf("spot").length, ondemand: this.nodesOf("ondemand").length };
    for (const node of kube.nodes()) {
      const name = node.metadata!.name!;
      const pool = poolOf(node);
      if (pool === "karpenter" || isTainted(node) || busy.has(name)) {
        this.idleSince.delete(name);
        continue;
      }
      const since = this.idleSince.get(name) ?? kube.now;
      this.idleSince.set(name, since);
      if (kube.now - since < options.unneededMs || left[pool] <= options.minNodes) continue;
      this.idleSince.delete(name);
      this.scaleDown(name);
      left[pool]--;
    }
  }

  /** Untainted spot nodes of the managed node group, the busiest first. */
  busiestSpotNodes(): string[] {
    const load = new Map<string, number>();
    for (const pod of this.options.kube.pods()) if (pod.spec?.nodeName) load.set(pod.spec.nodeName, (load.get(pod.spec.nodeName) ?? 0) + 1);
    return this.nodesOf("spot").sort((a, b) => (load.get(b) ?? 0) - (load.get(a) ?? 0));
  }

  /** Takes a node away the given way: taint, eviction of its job pods (their jobs fail), deletion. */
  remove(nodeName: string, way: NodeRemoval): void {
    const { kube, scenario } = this.options;
    const node = kube.node(nodeName);
    if (!node || isTainted(node)) return;
    const pool = poolOf(node);
    const { taint, replaced } = NODE_REMOVALS[way];
    kube.updateNode(nodeName, (n) => taintNode(n, taint));
    for (const [jobId, pod] of [...this.podOfJob]) {
      if ((kube.pod(pod.namespace, pod.name)?.spec?.nodeName ?? pod.node) !== nodeName) continue;
      // The eviction API marks the pod, then deletes it; the runner sees its pod gone.
      kube.updatePod(pod.namespace, pod.name, (p) => addDisruptionTarget(p, "EvictionByEvictionAPI"));
      this.podOfJob.delete(jobId);
      kube.deletePod(pod.namespace, pod.name);
      scenario.failWithSystemReason(jobId, "runner_system_failure");
    }
    scenario.schedule(this.options.delays?.nodeRemovalMs ?? NODE_REMOVAL_MS, () => {
      if (kube.node(nodeName)) kube.deleteNode(nodeName);
      // With simulated capacity, the autoscaler brings nodes when pods need them.
      if (replaced && !this.capacity) this.addNode(pool);
    });
  }

  /** Untainted spot nodes of the managed node group. */
  spotNodeNames(): string[] {
    return this.nodesOf("spot");
  }

  /** Untainted spot nodes of the Karpenter NodePool. */
  karpenterNodeNames(): string[] {
    return this.nodesOf("karpenter");
  }

  /** An image build in a plain Kubernetes Job, outside CI. */
  runPlainBuild(name: string, seconds: number, succeeds: boolean): void {
    const { kube, scenario } = this.options;
    const node = this.pickNode("ondemand");
    const pod = buildKubernetesJobPod({ namespace: "builds", jobName: name, image: this.options.kanikoImage ?? "gcr.io/kaniko-project/executor:v1.23.2", nodeName: node });
    const stored = kube.addPod(pod);
    const podName = stored.metadata!.name!;
    kube.updatePod("builds", podName, (p) => podRunning(p, new Date(kube.now)));
    scenario.schedule(seconds * 1000, () => {
      kube.updatePod("builds", podName, (p) => podTerminated(p, { finishedAt: new Date(kube.now), exitCode: succeeds ? 0 : 1 }));
      scenario.schedule(5000, () => kube.pod("builds", podName) && kube.deletePod("builds", podName));
    });
  }

  private startPod(job: SimJob, project: SimProject): void {
    const { kube } = this.options;
    const kaniko = /image/.test(job.name) || job.tags.includes("kaniko");
    // Spot-tagged jobs go to spot capacity, two thirds of the others too; a quarter of spot
    // placements to the Karpenter pool when there is one.
    const turn = this.placements++;
    const spot = job.tags.includes("spot") || turn % 3 !== 0;
    const pool: Pool = !spot ? "ondemand" : turn % 4 === 0 && this.nodesOf("karpenter").length > 0 ? "karpenter" : "spot";
    const podOptions: RunnerJobPodOptions = {
      namespace: this.namespace,
      projectId: project.id,
      projectPath: project.pathWithNamespace,
      gitlabUrl: this.options.gitlabUrl,
      jobId: job.id,
      jobName: job.name,
      ref: job.ref,
      runnerName: job.runner?.description ?? "eks-spot-runner",
      buildImage: kaniko ? (this.options.kanikoImage ?? "gcr.io/kaniko-project/executor:v1.23.2-debug") : "node:22-alpine",
      requests: kaniko ? { cpu: "2", memory: "4Gi" } : { cpu: "500m", memory: "1Gi" },
      limits: kaniko ? { cpu: "4", memory: "8Gi" } : { memory: "2Gi" },
    };
    if (this.capacity) {
      if (this.options.capacity?.jobsWaitForPods) this.options.scenario.holdRun(job.id);
      const name = this.capacity.launch(podOptions, { pool: NODEGROUPS[pool] });
      this.podOfJob.set(job.id, { namespace: this.namespace, name, node: "" });
      return;
    }
    const node = this.pickNode(pool);
    const pod = kube.addPod(buildRunnerJobPod({ ...podOptions, nodeName: node }));
    const name = pod.metadata!.name!;
    this.podOfJob.set(job.id, { namespace: this.namespace, name, node });
    kube.updatePod(this.namespace, name, (p) => podRunning(p, new Date(kube.now)));
  }

  private podStarted(podName: string): void {
    for (const [jobId, pod] of this.podOfJob) if (pod.name === podName) return this.options.scenario.beginRun(jobId);
  }

  private finishPod(job: SimJob): void {
    const { kube, scenario } = this.options;
    const pod = this.podOfJob.get(job.id);
    if (!pod) return;
    this.podOfJob.delete(job.id);
    // gitlab-runner deletes the pod once it has sent the job's result, its containers still
    // running (the build container runs a shell the runner feeds): a finished job's pod goes away
    // Running, never Succeeded.
    scenario.schedule(this.options.delays?.runnerCleanupMs ?? RUNNER_CLEANUP_MS, () => kube.pod(pod.namespace, pod.name) && kube.deletePod(pod.namespace, pod.name));
  }

  /** The least busy untainted node of the pool, as the scheduler's spreading would; a new one when the pool is empty. */
  private pickNode(pool: Pool): string {
    let chosen: string | undefined;
    let fewest = Infinity;
    for (const name of this.nodesOf(pool)) {
      const pods = this.podsOn(name);
      if (pods < fewest) [chosen, fewest] = [name, pods];
    }
    return chosen ?? this.addNode(pool);
  }

  private nodesOf(pool: Pool): string[] {
    return this.options.kube
      .nodes()
      .filter((n) => poolOf(n) === pool && !isTainted(n))
      .map((n) => n.metadata!.name!);
  }

  private podsOn(nodeName: string): number {
    let count = 0;
    for (const pod of this.podOfJob.values()) if (pod.node === nodeName) count++;
    return count;
  }

  private addNode(pool: Pool): string {
    const serial = ++this.nodeSerial;
    const zone = ZONES[serial % ZONES.length]!;
    const name = `ip-10-0-${Math.floor(serial / 250)}-${serial % 250}.us-west-2.compute.internal`;
    const createdAt = new Date(this.options.kube.now);
    const spotType = SPOT_TYPES[serial % SPOT_TYPES.length]!;
    const node =
      pool === "spot"
        ? buildSpotNode({ name, zone, instanceType: spotType, nodegroup: NODEGROUPS.spot, createdAt, provider: "eks" })
        : pool === "karpenter"
          ? buildSpotNode({ name, zone, instanceType: spotType, nodegroup: NODEGROUPS.karpenter, createdAt, provider: "karpenter" })
          : buildOnDemandNode({ name, zone, instanceType: "m6i.xlarge", nodegroup: NODEGROUPS.ondemand, createdAt });
    this.options.kube.addNode(node);
    return name;
  }
}

function poolOf(node: V1Node): Pool {
  const labels = node.metadata?.labels ?? {};
  if (labels["eks.amazonaws.com/capacityType"] === "SPOT") return "spot";
  if (labels["karpenter.sh/capacity-type"] === "spot") return "karpenter";
  return "ondemand";
}

function isTainted(node: V1Node): boolean {
  return (node.spec?.taints ?? []).length > 0;
}
