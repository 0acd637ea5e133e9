import { evidenceFromPodFailure, type RemovalReason } from "./node.js";

/**
 * Reasons derived from a pod's `DisruptionTarget` condition when its node gives none
 * (https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-conditions).
 */
export const DISRUPTION_REASONS: Readonly<Record<string, string>> = {
  EvictionByEvictionAPI: "eviction",
  PreemptionByScheduler: "scheduler_preemption",
  DeletionByTaintManager: "taint_eviction",
  DeletionByPodGC: "pod_gc",
  TerminationByKubelet: "kubelet_termination",
};

/** Any other `DisruptionTarget` reason a newer Kubernetes may add. */
export const OTHER_DISRUPTION = "disruption";

export type InterruptionReason = RemovalReason | string;

export interface InterruptionFacts {
  /**
   * How the pod's node stood when the pod went: its strongest removal evidence, "unknown" when
   * it was being deleted or was already gone without any sign why, null when it was not going.
   */
  readonly nodeReason: RemovalReason | null;
  /** Reason of the pod's `DisruptionTarget` condition (status True), null without one. */
  readonly disruption: string | null;
  readonly phase: string;
  /** The pod's `status.reason`, e.g. `NodeShutdown`, `Evicted`; "" when unset. */
  readonly statusReason: string;
}

/**
 * Why a CI job pod that went away was interrupted, or null when it was not. The node's reason
 * wins because it says why the capacity went; the pod's own condition comes next; a pod that
 * finished (`Succeeded`) was never interrupted, whatever its node did afterwards.
 */
export function interruptionReason(facts: InterruptionFacts): InterruptionReason | null {
  if (facts.phase === "Succeeded") return null;
  if (facts.nodeReason !== null && facts.nodeReason !== "unknown") return facts.nodeReason;
  if (facts.disruption !== null) return DISRUPTION_REASONS[facts.disruption] ?? OTHER_DISRUPTION;
  const shutdown = evidenceFromPodFailure(facts.phase, facts.statusReason);
  if (shutdown !== null) return shutdown;
  return facts.nodeReason;
}
