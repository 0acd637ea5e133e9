import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { ManualClock } from "../gitlab/clock.js";
import { EventQueue } from "../gitlab/event-queue.js";
import {
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  nodeGroupOf,
  imagePullMessage,
  nodeNotReady,
  nodeReady,
  podContainerWaiting,
  podCreating,
  podRunning,
  podUnschedulable,
  type RunnerJobPodOptions,
  type SpotProvider,
} from "./builders.js";
import type { KubeWorld } from "./world.js";

/**
 * How job pods get to run in the simulated cluster: the scheduler binds each to a node of its pool
 * with room, or records it Unschedulable and asks the autoscaler for nodes; a node comes a while
 * later (created after the pods that wait for it), NotReady first, then Ready; the kubelet pulls
 * images (fast where they are cached, slower on a fresh node, slow or failing when the registry
 * is); then the containers run. Switches withhold a pool's capacity (no node comes), pause the
 * scheduler, slow or break the registry. It keeps the truth of what it did: each pod's stage,
 * and each start as the exporter should observe it.
 */

/** Where a pod stands: why it waits (the exporter's `reason` values), or `running`. */
export type PodStage = "scheduling" | "unschedulable" | "container_creating" | "image_pull" | "other" | "running";

/** Simulated time: what is due when. */
export interface Timeline {
  now(): number;
  schedule(delayMs: number, action: () => void): void;
}

/** Real time, for the demo and end-to-end tests; `dispose` cancels what is still due. */
export class RealTimeline implements Timeline {
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly now = (): number => Date.now();

  schedule(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    this.timers.add(timer);
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** A timeline moved by hand: `advance` runs what falls due, the clock at each action's time. */
export class ManualTimeline implements Timeline {
  private readonly events = new EventQueue<() => void>();

  constructor(private readonly clock: ManualClock) {}

  readonly now = (): number => this.clock.now();

  schedule(delayMs: number, action: () => void): void {
    this.events.push(this.clock.now() + Math.max(0, delayMs), action);
  }

  advance(ms: number): void {
    const target = this.clock.now() + ms;
    for (let at = this.events.peekTime(); at !== undefined && at <= target; at = this.events.peekTime()) {
      const event = this.events.pop()!;
      this.clock.advanceTo(event.at);
      event.value();
    }
    this.clock.advanceTo(target);
  }
}

/** A node group the autoscaler grows: which nodes are its, how it makes one, how many job pods fit a node. */
export interface CapacityPool {
  /** The node group's name, as its nodes' labels tell it. */
  readonly name: string;
  readonly capacityType: "spot" | "on_demand";
  readonly podsPerNode: number;
  belongs(node: V1Node): boolean;
  /** A new node of the group, created at `createdAt` (its name unique). */
  newNode(createdAt: Date): V1Node;
}

let poolNodeSerial = 0;

/**
 * A node group of spot (EKS managed node group, Karpenter NodePool, ... by `provider`) or on-demand
 * (EKS managed node group) capacity, whose nodes are told by its group label.
 */
export function nodePool(options: { name: string; capacityType: "spot" | "on_demand"; podsPerNode: number; provider?: SpotProvider; instanceType?: string; zones?: readonly string[] }): CapacityPool {
  const zones = options.zones ?? ["us-west-2a", "us-west-2b", "us-west-2c"];
  return {
    name: options.name,
    capacityType: options.capacityType,
    podsPerNode: options.podsPerNode,
    belongs: (node) => nodeGroupOf(node) === options.name,
    newNode: (createdAt) => {
      const serial = ++poolNodeSerial;
      const name = `ip-10-1-${Math.floor(serial / 250)}-${serial % 250}.us-west-2.compute.internal`;
      const shape = { name, nodegroup: options.name, createdAt, zone: zones[serial % zones.length]!, instanceType: options.instanceType ?? "m6i.2xlarge" };
      return options.capacityType === "spot" ? buildSpotNode({ ...shape, provider: options.provider ?? "eks" }) : buildOnDemandNode(shape);
    },
  };
}

export interface CapacityTiming {
  /** The scheduler's latency, from a pod's creation (or room made) to its verdict. */
  readonly scheduleMs: number;
  /** From the scale-up to the node object (the instance launching and registering). */
  readonly provisionMs: number;
  /** From the node object to Ready (its network up). */
  readonly nodeReadyMs: number;
  /** Creating the containers on a node that has their images. */
  readonly warmStartMs: number;
  /** Pulling the images on a node that lacks them. */
  readonly coldPullMs: number;
  /** Between the kubelet's pull attempts while a pull fails. */
  readonly pullRetryMs: number;
}

/** Realistic times for a cloud: a minute and a quarter for a node, 25 s for a cold pull. */
export const DEFAULT_CAPACITY_TIMING: CapacityTiming = { scheduleMs: 1000, provisionMs: 45_000, nodeReadyMs: 30_000, warmStartMs: 3000, coldPullMs: 25_000, pullRetryMs: 10_000 };

/** A start as the exporter should observe it. */
export interface StartupTruth {
  readonly nodegroup: string;
  readonly capacityType: "spot" | "on_demand";
  readonly newNode: boolean;
  readonly startupSeconds: number;
  readonly schedulingSeconds: number;
}

/** A waiting pod as the exporter should count it. */
export interface WaitingTruth {
  readonly project: string;
  readonly reason: Exclude<PodStage, "running">;
  readonly createdAtMs: number;
}

interface SimPod {
  readonly namespace: string;
  readonly name: string;
  readonly pool: CapacityPool;
  readonly project: string;
  readonly createdAtMs: number;
  readonly images: readonly string[];
  stage: PodStage;
  node: string | null;
  scheduledAtMs: number | null;
  configError: boolean;
  pullFailures: number;
}

const CONFIG_ERROR = 'secret "registry-credentials" not found';
/** gitlab-runner runs the job's image in the container named `build`. */
const BUILD_CONTAINER = "build";

export class ClusterCapacity {
  private readonly pods = new Map<string, SimPod>();
  private readonly pools: ReadonlyMap<string, CapacityPool>;
  /** Per pool, nodes launched and not Ready yet. */
  private readonly provisioning = new Map<string, number>();
  private readonly withheld = new Set<string>();
  /** Images pulled on nodes this simulator launched; nodes that predate it have every image. */
  private readonly cached = new Map<string, Set<string>>();
  private schedulerPaused = false;
  private registry: { failing: boolean; slowMs: number | null } = { failing: false, slowMs: null };
  private readonly timing: CapacityTiming;
  private readonly detach: () => void;
  /** Every start, in order. */
  readonly startups: StartupTruth[] = [];

  constructor(
    private readonly options: {
      kube: KubeWorld;
      pools: readonly CapacityPool[];
      timeline: Timeline;
      timing?: Partial<CapacityTiming>;
      /**
       * How the scheduler picks among the nodes with room: the least busy (`spread`, kube-scheduler's
       * default scoring), or the busiest (`binpack`, its `MostAllocated` scoring, which CI clusters
       * choose so nodes empty out and the autoscaler can remove them).
       */
      packing?: "spread" | "binpack";
      /** Told of each pod whose containers start. */
      onStart?: (namespace: string, name: string) => void;
    },
  ) {
    this.pools = new Map(options.pools.map((pool) => [pool.name, pool]));
    this.timing = { ...DEFAULT_CAPACITY_TIMING, ...options.timing };
    this.detach = options.kube.onChange((event) => {
      if (event.type !== "DELETED") return;
      if (event.resource === "pods") this.forget(event.object as V1Pod);
      else this.cached.delete(event.object.metadata?.name ?? "");
    });
  }

  dispose(): void {
    this.detach();
  }

  /** Creates a runner job pod for the pool, not yet scheduled; its name. */
  launch(podOptions: RunnerJobPodOptions, placement: { pool: string; configError?: boolean }): string {
    const pool = this.requirePool(placement.pool);
    const stored = this.options.kube.addPod(buildRunnerJobPod({ ...podOptions, nodeName: undefined }));
    const { namespace, name } = stored.metadata as { namespace: string; name: string };
    const images = [...(stored.spec!.initContainers ?? []), ...stored.spec!.containers].map((c) => c.image ?? "");
    this.pods.set(`${namespace}/${name}`, {
      namespace,
      name,
      pool,
      project: podOptions.projectPath,
      createdAtMs: new Date(stored.metadata!.creationTimestamp!).getTime(),
      images,
      stage: "scheduling",
      node: null,
      scheduledAtMs: null,
      configError: placement.configError ?? false,
      pullFailures: 0,
    });
    this.options.timeline.schedule(this.timing.scheduleMs, () => this.attempt(pool));
    return name;
  }

  /** The job is over: the runner deletes its pod, whatever stage it is at. */
  finish(namespace: string, name: string): void {
    if (this.options.kube.pod(namespace, name)) this.options.kube.deletePod(namespace, name);
  }

  /** Scale-ups of the pool fail (no capacity): its pods stay Unschedulable until `restore`. */
  withhold(pool: string): void {
    this.withheld.add(this.requirePool(pool).name);
  }

  restore(pool: string): void {
    this.withheld.delete(pool);
    this.attempt(this.requirePool(pool));
  }

  /** The scheduler gives no verdict (down, or far behind): new pods stay unscheduled. */
  pauseScheduler(): void {
    this.schedulerPaused = true;
  }

  resumeScheduler(): void {
    this.schedulerPaused = false;
    for (const pool of this.pools.values()) this.attempt(pool);
  }

  /** Pulls of images a node lacks fail (the registry rate-limits), until `healRegistry`. */
  failPulls(): void {
    this.registry = { ...this.registry, failing: true };
  }

  /** Pulls of images a node lacks take this long. */
  slowPulls(ms: number): void {
    this.registry = { ...this.registry, slowMs: ms };
  }

  healRegistry(): void {
    this.registry = { failing: false, slowMs: null };
  }

  /** The pod's container config is fixed (the missing secret created): it starts. */
  fixConfig(namespace: string, name: string): void {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return;
    pod.configError = false;
    if (pod.stage === "other") this.start(pod);
  }

  stageOf(namespace: string, name: string): PodStage | undefined {
    return this.pods.get(`${namespace}/${name}`)?.stage;
  }

  /** The live pods that wait, with why. */
  waiting(): WaitingTruth[] {
    const result: WaitingTruth[] = [];
    for (const pod of this.pods.values()) if (pod.stage !== "running") result.push({ project: pod.project, reason: pod.stage, createdAtMs: pod.createdAtMs });
    return result;
  }

  /** Nodes of the pool the autoscaler launched that are not Ready yet. */
  provisioningOf(pool: string): number {
    return this.provisioning.get(pool) ?? 0;
  }

  private forget(object: V1Pod): void {
    const key = `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
    const pod = this.pods.get(key);
    if (!pod) return;
    this.pods.delete(key);
    // Room made on its node: the scheduler looks again.
    if (pod.node !== null) this.options.timeline.schedule(this.timing.scheduleMs, () => this.attempt(pod.pool));
  }

  /** The scheduler's pass over the pool's waiting pods, oldest first, then the autoscaler's. */
  private attempt(pool: CapacityPool): void {
    if (this.schedulerPaused) return;
    const waiting = [...this.pods.values()].filter((p) => p.pool === pool && (p.stage === "scheduling" || p.stage === "unschedulable")).sort((a, b) => a.createdAtMs - b.createdAtMs);
    let unschedulable = 0;
    for (const pod of waiting) {
      const node = this.nodeWithRoom(pool);
      if (node !== null) this.bind(pod, node);
      else {
        this.refuse(pod);
        unschedulable++;
      }
    }
    this.scaleUp(pool, unschedulable);
  }

  private nodeWithRoom(pool: CapacityPool): string | null {
    const binpack = this.options.packing === "binpack";
    let chosen: string | null = null;
    let best = binpack ? -1 : pool.podsPerNode;
    for (const node of this.options.kube.nodes()) {
      if (!pool.belongs(node) || !isSchedulable(node)) continue;
      const name = node.metadata!.name!;
      const load = [...this.pods.values()].filter((p) => p.node === name).length;
      if (load >= pool.podsPerNode) continue;
      if (binpack ? load > best : load < best) [chosen, best] = [name, load];
    }
    return chosen;
  }

  private refuse(pod: SimPod): void {
    if (pod.stage === "unschedulable") return;
    pod.stage = "unschedulable";
    const message = this.failedSchedulingMessage(pod.pool);
    this.options.kube.updatePod(pod.namespace, pod.name, (p) => podUnschedulable(p, message, new Date(this.options.timeline.now())));
  }

  /** kube-scheduler's FailedScheduling message: why each node does not fit, then why preemption does not help. */
  private failedSchedulingMessage(pool: CapacityPool): string {
    const nodes = this.options.kube.nodes();
    const own = nodes.filter((n) => pool.belongs(n));
    const full = own.filter(isSchedulable).length;
    const notReady = own.length - full;
    const others = nodes.length - own.length;
    const reasons = [
      ...(full > 0 ? [`${full} Insufficient cpu`] : []),
      ...(notReady > 0 ? [`${notReady} node(s) had untolerated taint {node.kubernetes.io/not-ready: }`] : []),
      ...(others > 0 ? [`${others} node(s) didn't match Pod's node affinity/selector`] : []),
    ].sort();
    const preemption = [...(full > 0 ? [`${full} No preemption victims found for incoming pod`] : []), ...(notReady + others > 0 ? [`${notReady + others} Preemption is not helpful for scheduling`] : [])];
    return `0/${nodes.length} nodes are available: ${reasons.join(", ")}. preemption: 0/${nodes.length} nodes are available: ${preemption.join(", ")}.`;
  }

  /** The autoscaler launches nodes for the pods no node coming will take, unless the pool is withheld. */
  private scaleUp(pool: CapacityPool, unschedulable: number): void {
    if (this.withheld.has(pool.name)) return;
    const coming = this.provisioningOf(pool.name) * pool.podsPerNode;
    const nodes = Math.ceil(Math.max(0, unschedulable - coming) / pool.podsPerNode);
    for (let i = 0; i < nodes; i++) this.provision(pool);
  }

  private provision(pool: CapacityPool): void {
    const { kube, timeline } = this.options;
    this.provisioning.set(pool.name, this.provisioningOf(pool.name) + 1);
    timeline.schedule(this.timing.provisionMs, () => {
      const node = pool.newNode(new Date(timeline.now()));
      nodeNotReady(node, new Date(timeline.now()));
      const name = kube.addNode(node).metadata!.name!;
      this.cached.set(name, new Set());
      timeline.schedule(this.timing.nodeReadyMs, () => {
        this.provisioning.set(pool.name, this.provisioningOf(pool.name) - 1);
        if (kube.node(name)) kube.updateNode(name, (n) => nodeReady(n, new Date(timeline.now())));
        this.attempt(pool);
      });
    });
  }

  private bind(pod: SimPod, node: string): void {
    const { kube, timeline } = this.options;
    const now = timeline.now();
    pod.stage = "container_creating";
    pod.node = node;
    pod.scheduledAtMs = now;
    kube.updatePod(pod.namespace, pod.name, (p) => podCreating(p, node, new Date(now)));
    this.pull(pod);
  }

  /** The kubelet pulls what the node lacks: the containers start, or the pull fails and is retried. */
  private pull(pod: SimPod): void {
    const cache = this.cached.get(pod.node!);
    const cold = cache !== undefined && pod.images.some((image) => !cache.has(image));
    if (cold && this.registry.failing) {
      this.options.timeline.schedule(this.timing.pullRetryMs, () => this.pullFailed(pod));
      return;
    }
    const ms = cold ? (this.registry.slowMs ?? this.timing.coldPullMs) : this.timing.warmStartMs;
    this.options.timeline.schedule(ms, () => this.start(pod));
  }

  /** ErrImagePull, then ImagePullBackOff while the kubelet backs off, alternating, until the registry heals. */
  private pullFailed(pod: SimPod): void {
    if (!this.live(pod) || (pod.stage !== "container_creating" && pod.stage !== "image_pull")) return;
    if (!this.registry.failing) {
      // This retry gets through: the pod shows its last pull error until its containers run.
      this.options.timeline.schedule(this.registry.slowMs ?? this.timing.coldPullMs, () => this.start(pod));
      return;
    }
    pod.stage = "image_pull";
    const reason = pod.pullFailures++ % 2 === 0 ? "ErrImagePull" : "ImagePullBackOff";
    const image = pod.images.find((i) => i.length > 0 && !this.cached.get(pod.node!)?.has(i)) ?? "";
    const container = this.options.kube.pod(pod.namespace, pod.name)!.spec!.containers.find((c) => c.image === image)?.name ?? BUILD_CONTAINER;
    this.options.kube.updatePod(pod.namespace, pod.name, (p) => podContainerWaiting(p, container, reason, imagePullMessage(image, reason)));
    this.options.timeline.schedule(this.timing.pullRetryMs, () => this.pullFailed(pod));
  }

  private start(pod: SimPod): void {
    const { kube, timeline } = this.options;
    if (!this.live(pod) || pod.stage === "running") return;
    if (pod.configError) {
      pod.stage = "other";
      kube.updatePod(pod.namespace, pod.name, (p) => podContainerWaiting(p, BUILD_CONTAINER, "CreateContainerConfigError", CONFIG_ERROR));
      return;
    }
    const now = timeline.now();
    pod.stage = "running";
    kube.updatePod(pod.namespace, pod.name, (p) => podRunning(p, new Date(now)));
    const cache = this.cached.get(pod.node!);
    for (const image of pod.images) cache?.add(image);
    const nodeCreated = new Date(kube.node(pod.node!)?.metadata?.creationTimestamp ?? 0).getTime();
    this.startups.push({
      nodegroup: pod.pool.name,
      capacityType: pod.pool.capacityType,
      newNode: nodeCreated > pod.createdAtMs,
      startupSeconds: (now - pod.createdAtMs) / 1000,
      schedulingSeconds: (pod.scheduledAtMs! - pod.createdAtMs) / 1000,
    });
    this.options.onStart?.(pod.namespace, pod.name);
  }

  private live(pod: SimPod): boolean {
    return this.pods.get(`${pod.namespace}/${pod.name}`) === pod;
  }

  private requirePool(name: string): CapacityPool {
    const pool = this.pools.get(name);
    if (!pool) throw new Error(`no capacity pool ${name}`);
    return pool;
  }
}

/** Ready, untainted and not cordoned: the scheduler may place pods on it. */
function isSchedulable(node: V1Node): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  return ready && (node.spec?.taints ?? []).length === 0 && node.spec?.unschedulable !== true;
}
