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
  /** Set for CI job pods. */
  readonly job: JobPodIdentity | null;
  readonly containers: readonly ContainerSnapshot[];
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
}

/** Pods that matter: CI job pods, and pods running a timed image builder. */
export function isTracked(pod: PodSnapshot): boolean {
  return pod.job !== null || pod.containers.some((c) => c.builder !== null);
}
