import type { JobPodIdentity } from "./job-pod.js";
import type { RemovalReason } from "./node.js";

/** The few facts kept of a Pod: what the metrics, the build timings and the interruption rules read. */
export interface PodSnapshot {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** "" while unscheduled. */
  readonly nodeName: string;
  readonly phase: string;
  /** `status.reason`, e.g. `NodeShutdown` or `Evicted`; "" when unset. */
  readonly statusReason: string;
  /** Reason of a `DisruptionTarget` condition with status True; null without one. */
  readonly disruption: string | null;
  /**
   * For a pod in a final phase, when it got there (its containers' latest finish, else its
   * conditions' latest change); null while it runs or when the status tells no time. Tells a
   * failure happening now from one left over from long ago.
   */
  readonly finishedAtMs: number | null;
  /**
   * When the pod's deletion was asked for (`deletionTimestamp` less the grace period); null while
   * nobody asked. A container that ended after it was killed by the deletion, not done.
   */
  readonly deletionRequestedAtMs: number | null;
  /** When the deletion is due (`deletionTimestamp`): the pod is gone by then at the latest; null while nobody asked. */
  readonly deletionDueAtMs?: number | null;
  /** Set for CI job pods. */
  readonly job: JobPodIdentity | null;
  /**
   * The id of a CI job pod's project, when the pod tells it (`KUBE_PROJECT_ID_KEYS`) or its
   * project's path is a discovered project's: the pod's shard is its project's. Absent or null
   * otherwise.
   */
  readonly projectId?: number | null;
  readonly containers: readonly ContainerSnapshot[];
  /** How far a CI job pod got towards running; null for other pods. */
  readonly start: PodStart | null;
}

/**
 * What a job pod's status tells of its way to running: whether the scheduler found it a node,
 * which containers still wait and why, and how long it took once its build container started.
 */
export interface PodStart {
  /** `metadata.creationTimestamp`; null when absent or refused. */
  readonly createdAtMs: number | null;
  /** Its `PodScheduled` condition is False with reason `Unschedulable`: no node fits it now. */
  readonly unschedulable: boolean;
  /** The reasons of its containers waiting now, init containers included ("" for a waiting state without one). */
  readonly waitingReasons: readonly string[];
  /** Every container (not init containers) has started: it runs, or ran and ended. */
  readonly allStarted: boolean;
  /** From creation to the build container running (gitlab-runner's `build`, else the first); null until then, or when a time is missing. */
  readonly startupSeconds: number | null;
  /** From creation to the `PodScheduled` condition turning True; null until then, or when a time is missing. */
  readonly schedulingSeconds: number | null;
  /** When the pod was bound to its node (`PodScheduled` True); null until then, or when no time is told. */
  readonly scheduledAtMs?: number | null;
}

/** `cpu` in cores, `memory` in bytes; absent when not set. */
export type ResourceAmounts = Readonly<Partial<Record<"cpu" | "memory", number>>>;

export interface ContainerSnapshot {
  readonly name: string;
  readonly requests: ResourceAmounts;
  readonly limits: ResourceAmounts;
  /** The image builder this container runs when its builds are timed, else null. */
  readonly builder: string | null;
  /** Finished runs found in the status (current and last state), oldest first; only for builders. */
  readonly finishedRuns: readonly ContainerRun[];
}

export interface ContainerRun {
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly exitCode: number;
}

/** The few facts kept of a Node. */
export interface NodeSnapshot {
  readonly name: string;
  readonly uid: string;
  readonly createdAtMs: number | null;
  /** `metadata.deletionTimestamp`: the node is being deleted (a finalizer holds it). */
  readonly deletingSinceMs: number | null;
  readonly spot: boolean;
  readonly instanceType: string;
  readonly zone: string;
  readonly nodegroup: string;
  /** The strongest removal sign among its taints now, null when none. */
  readonly evidence: RemovalReason | null;
  /** Since when its `Ready` condition has been True; null when it is not Ready or tells no time. */
  readonly readySinceMs: number | null;
  /** What pods may request of it (`status.allocatable`, else `status.capacity`); absent when not told. */
  readonly allocatable?: ResourceAmounts;
}

/** Why a job pod that has not started yet waits: the `reason` label of `gitlab_ci_job_pods_waiting`. */
export const WAITING_REASONS = ["unschedulable", "scheduling", "container_creating", "image_pull", "other"] as const;
export type WaitingReason = (typeof WAITING_REASONS)[number];

/** Container waiting reasons of a container still being set up on its node. */
const CREATING_REASONS = new Set(["ContainerCreating", "PodInitializing", ""]);
/** Container waiting reasons of an image the kubelet cannot pull (it retries with a backoff). */
const IMAGE_PULL_REASONS = new Set(["ErrImagePull", "ImagePullBackOff"]);

/**
 * Why a CI job pod waits now, or null once every container has started, or when it ended or its
 * deletion was asked for. Not yet on a node: `unschedulable` when the scheduler said no node fits,
 * else `scheduling`. On a node: `image_pull` when a container cannot get its image, `other` for
 * any other waiting reason (`CreateContainerConfigError`, ...), else `container_creating`.
 */
export function waitingReason(pod: PodSnapshot): WaitingReason | null {
  const start = pod.start;
  if (pod.job === null || start === null || start.allStarted) return null;
  if (pod.phase === "Succeeded" || pod.phase === "Failed" || pod.deletionRequestedAtMs !== null) return null;
  if (pod.nodeName === "") return start.unschedulable ? "unschedulable" : "scheduling";
  if (start.waitingReasons.some((reason) => IMAGE_PULL_REASONS.has(reason))) return "image_pull";
  if (start.waitingReasons.some((reason) => !CREATING_REASONS.has(reason))) return "other";
  return "container_creating";
}

/** The labels and durations of a job pod's startup, observed once: `gitlab_ci_job_pod_startup_duration_seconds`. */
export interface JobPodStartup {
  /** The node's group; "" when the node is not known. */
  readonly nodegroup: string;
  /** "spot" or "on_demand"; "" when the node is not known. */
  readonly capacityType: "spot" | "on_demand" | "";
  /** "true" when the node was created after the pod (it waited for a scale-up); "" when either creation time is unknown. */
  readonly newNode: "true" | "false" | "";
  readonly startupSeconds: number;
  readonly schedulingSeconds: number | null;
}

/**
 * A started job pod's startup on its node (undefined when the node is not known), or null while
 * its build container has not started (or its times are unknown).
 */
export function startupOf(pod: PodSnapshot, node: NodeSnapshot | undefined): JobPodStartup | null {
  const start = pod.start;
  if (start === null || start.startupSeconds === null) return null;
  const created = start.createdAtMs;
  return {
    nodegroup: node?.nodegroup ?? "",
    capacityType: node === undefined ? "" : node.spot ? "spot" : "on_demand",
    newNode: node === undefined || node.createdAtMs === null || created === null ? "" : node.createdAtMs > created ? "true" : "false",
    startupSeconds: start.startupSeconds,
    schedulingSeconds: start.schedulingSeconds,
  };
}

/** Pods that matter: CI job pods, and pods running a timed image builder. */
export function isTracked(pod: PodSnapshot): boolean {
  return pod.job !== null || pod.containers.some((c) => c.builder !== null);
}
