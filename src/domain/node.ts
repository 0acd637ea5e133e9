/**
 * Spot nodes: how to tell one from its labels, how to describe it, and why it went away.
 */

export interface LabelSelector {
  readonly key: string;
  readonly value: string;
}

/** Labels the cloud providers and provisioners put on spot / preemptible capacity. */
export const DEFAULT_SPOT_SELECTORS: readonly LabelSelector[] = [
  { key: "eks.amazonaws.com/capacityType", value: "SPOT" },
  { key: "karpenter.sh/capacity-type", value: "spot" },
  { key: "cloud.google.com/gke-spot", value: "true" },
  { key: "cloud.google.com/gke-preemptible", value: "true" },
  { key: "kubernetes.azure.com/scalesetpriority", value: "spot" },
  { key: "node.kubernetes.io/lifecycle", value: "spot" },
];

/** Node group labels of EKS managed node groups, Karpenter, GKE, kOps and AKS. */
export const DEFAULT_NODEGROUP_KEYS: readonly string[] = [
  "eks.amazonaws.com/nodegroup",
  "karpenter.sh/nodepool",
  "cloud.google.com/gke-nodepool",
  "kops.k8s.io/instancegroup",
  "kubernetes.azure.com/agentpool",
];

/** The well-known instance type labels, current first, then the deprecated one nodes still carry. */
export const DEFAULT_INSTANCE_TYPE_KEYS: readonly string[] = ["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"];
/** The well-known zone labels, current first, then the deprecated one. */
export const DEFAULT_ZONE_KEYS: readonly string[] = ["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"];

type Labels = Readonly<Record<string, string>> | undefined;

export function isSpotNode(labels: Labels, selectors: readonly LabelSelector[]): boolean {
  return selectors.some((s) => labels?.[s.key] === s.value);
}

export function nodeGroupOf(labels: Labels, keys: readonly string[]): string {
  return firstLabel(labels, keys);
}

export function instanceTypeOf(labels: Labels, keys: readonly string[] = DEFAULT_INSTANCE_TYPE_KEYS): string {
  return firstLabel(labels, keys);
}

export function zoneOf(labels: Labels, keys: readonly string[] = DEFAULT_ZONE_KEYS): string {
  return firstLabel(labels, keys);
}

function firstLabel(labels: Labels, keys: readonly string[]): string {
  for (const key of keys) {
    const value = labels?.[key];
    if (value !== undefined && value !== "") return value;
  }
  return "";
}

/**
 * Why a node went away, weakest first. When several signs were seen, the strongest one names the
 * reason: a signal that the capacity is being taken back (interruption, shutdown) outranks a
 * warning (rebalance recommendation), which outranks a voluntary removal by a provisioner.
 */
export const REMOVAL_REASONS = [
  "unknown",
  "autoscaler_scale_down",
  "karpenter_disruption",
  "rebalance_recommendation",
  "node_shutdown",
  "spot_interruption",
] as const;

export type RemovalReason = (typeof REMOVAL_REASONS)[number];

/** The taints that say a node is on its way out. */
const TAINT_REASONS: ReadonlyArray<readonly [string, RemovalReason]> = [
  ["ToBeDeletedByClusterAutoscaler", "autoscaler_scale_down"],
  ["aws-node-termination-handler/spot-itn", "spot_interruption"],
  ["aws-node-termination-handler/rebalance-recommendation", "rebalance_recommendation"],
  ["karpenter.sh/disrupted", "karpenter_disruption"],
  ["cloud.google.com/impending-node-termination", "node_shutdown"],
];

/** Pod `status.reason` values the kubelet sets when graceful node shutdown terminates a pod. */
const SHUTDOWN_POD_REASONS = new Set(["Terminated", "NodeShutdown"]);

export function stronger(a: RemovalReason | null, b: RemovalReason | null): RemovalReason | null {
  if (a === null) return b;
  if (b === null) return a;
  return REMOVAL_REASONS.indexOf(a) >= REMOVAL_REASONS.indexOf(b) ? a : b;
}

/** The strongest removal sign among a node's taints, or null when none says the node is going. */
export function evidenceFromTaints(taints: ReadonlyArray<{ readonly key: string }> | undefined): RemovalReason | null {
  let strongest: RemovalReason | null = null;
  for (const taint of taints ?? []) {
    const reason = TAINT_REASONS.find(([key]) => key === taint.key)?.[1] ?? null;
    strongest = stronger(strongest, reason);
  }
  return strongest;
}

/** A pod failed by graceful node shutdown is a sign that its node is shutting down. */
export function evidenceFromPodFailure(phase: string, statusReason: string): RemovalReason | null {
  return phase === "Failed" && SHUTDOWN_POD_REASONS.has(statusReason) ? "node_shutdown" : null;
}

/** The reason recorded when a node disappears: the strongest of the signs standing when it went. */
export function inferRemovalReason(evidence: Iterable<RemovalReason | null>): RemovalReason {
  let strongest: RemovalReason | null = null;
  for (const reason of evidence) strongest = stronger(strongest, reason);
  return strongest ?? "unknown";
}
