import type { ContainerSnapshot, NodeSnapshot, PodSnapshot, ResourceAmounts } from "./pod.js";

/**
 * What CI costs, allocated as OpenCost allocates a node: a node's hourly price is split between
 * its CPU and its memory by the relative prices of a core-hour and a GiB-hour, and a pod pays for
 * the share of the node's allocatable CPU and memory it requests, for as long as it holds the node
 * (from its binding to its end). What no CI job pod requested on a node that holds one is the CI
 * node group's idle capacity. Every function here is pure: prices, shares and times in, money out.
 */

export const GIB = 2 ** 30;

/** The hourly prices of one instance type, in the table's currency. */
export interface InstancePrice {
  readonly onDemand: number;
  /** null when the table gives none: spot nodes of the type are then not priced. */
  readonly spot: number | null;
}

/**
 * How a node's price splits between CPU and memory: the relative prices of a core-hour and a
 * GiB-hour (only their ratio matters). OpenCost's defaults, which it uses to split the price of a
 * cloud node whose billing names only the whole instance.
 */
export interface ResourceWeights {
  readonly cpuCoreHour: number;
  readonly memoryGiBHour: number;
}

export const OPENCOST_RESOURCE_WEIGHTS: ResourceWeights = { cpuCoreHour: 0.031611, memoryGiBHour: 0.004237 };

/** `KUBE_NODE_PRICES_FILE`, read and checked. */
export interface PriceTable {
  readonly currency: string;
  readonly weights: ResourceWeights;
  readonly instanceTypes: ReadonlyMap<string, InstancePrice>;
}

export type CapacityType = "spot" | "on_demand";

export function capacityTypeOf(node: Pick<NodeSnapshot, "spot">): CapacityType {
  return node.spot ? "spot" : "on_demand";
}

/** A node's hourly price at its capacity type, and what the same instance costs on demand. */
export interface NodePrice {
  readonly hourly: number;
  readonly onDemandHourly: number;
}

/** The node's price from the table; null when its instance type (or its spot price) is not in it. */
export function nodePrice(table: PriceTable | null, instanceType: string, capacityType: CapacityType): NodePrice | null {
  const price = table?.instanceTypes.get(instanceType);
  if (!price) return null;
  const hourly = capacityType === "spot" ? price.spot : price.onDemand;
  return hourly === null ? null : { hourly, onDemandHourly: price.onDemand };
}

/** CPU in cores and memory in bytes: what a pod requests, or what a node can give. */
export interface Resources {
  readonly cpu: number;
  readonly memory: number;
}

/**
 * What a pod's containers request together. The scheduler reserves the larger of this and its
 * largest init container; gitlab-runner's init container asks for less than its build container.
 */
export function podRequests(containers: readonly ContainerSnapshot[]): Resources {
  let cpu = 0;
  let memory = 0;
  for (const container of containers) {
    cpu += container.requests.cpu ?? 0;
    memory += container.requests.memory ?? 0;
  }
  return { cpu, memory };
}

/** A node's allocatable CPU and memory, or null when it does not tell both. */
export function allocatableOf(amounts: ResourceAmounts | undefined): Resources | null {
  const cpu = amounts?.cpu;
  const memory = amounts?.memory;
  return cpu !== undefined && memory !== undefined && cpu > 0 && memory > 0 ? { cpu, memory } : null;
}

/**
 * The share of a node a pod's requests take: its requested CPU and memory, each weighted by the
 * price of a unit, over the node's allocatable CPU and memory weighted alike. The shares of the
 * pods a node holds add up to at most 1, since their requests fit in its allocatable resources.
 */
export function nodeShare(requests: Resources, allocatable: Resources, weights: ResourceWeights): number {
  const value = (r: Resources) => r.cpu * weights.cpuCoreHour + (r.memory / GIB) * weights.memoryGiBHour;
  return value(requests) / value(allocatable);
}

/**
 * What a pod costs a second on its node, at the node's price and at the on-demand price of the
 * same instance type (the spot saving is the difference).
 */
export interface CostRates {
  readonly perSecond: number;
  readonly onDemandPerSecond: number;
}

export function costRates(share: number, price: NodePrice): CostRates {
  return { perSecond: (share * price.hourly) / 3600, onDemandPerSecond: (share * price.onDemandHourly) / 3600 };
}

/** When a pod that reached a final phase stopped holding its node; null while it runs or when no time is told. */
export function finishedHoldMs(pod: Pick<PodSnapshot, "phase" | "finishedAtMs">): number | null {
  return pod.phase === "Succeeded" || pod.phase === "Failed" ? pod.finishedAtMs : null;
}

/**
 * When a pod that went away stopped holding its node, seen gone at `goneAtMs`: its final phase's
 * time when it has one, else that moment, but no later than its deletion was due (a deletion seen
 * late, after a watch was resumed, did not hold the node meanwhile).
 */
export function departedHoldMs(pod: Pick<PodSnapshot, "phase" | "finishedAtMs" | "deletionDueAtMs">, goneAtMs: number): number {
  return finishedHoldMs(pod) ?? Math.min(goneAtMs, pod.deletionDueAtMs ?? goneAtMs);
}

/**
 * How long a pod held its node between `fromMs` and `toMs`, in seconds, cut at the node's removal
 * (a pod cannot hold a node that is gone, however late its own deletion comes); never negative.
 */
export function heldSeconds(fromMs: number, toMs: number, nodeGoneAtMs: number | null = null): number {
  const end = nodeGoneAtMs === null ? toMs : Math.min(toMs, nodeGoneAtMs);
  return Math.max(0, (end - fromMs) / 1000);
}
