import type { V1Pod } from "@kubernetes/client-node";
import { parseQuantity } from "../../src/domain/quantity.js";
import type { Sample } from "./prom.js";

/**
 * What the cost families must say, computed from known facts alone: nodes of known types, prices
 * and allocatable resources, and job pods of known requests holding them between known moments.
 */
export const GIB = 2 ** 30;

export interface PriceFacts {
  readonly weights: { readonly cpu: number; readonly memoryGiB: number };
  readonly prices: Readonly<Record<string, { readonly onDemand: number; readonly spot?: number }>>;
}

export interface NodeFacts {
  readonly name: string;
  readonly instanceType: string;
  readonly spot: boolean;
  readonly nodegroup: string;
  readonly cpu: number;
  readonly memoryGiB: number;
}

export interface PodFacts {
  readonly name: string;
  readonly project: string;
  readonly ref: string;
  readonly jobName: string;
  readonly node: string;
  readonly cpu: number;
  readonly memory: number;
  readonly boundAtMs: number;
  /** Null while it runs. */
  endAtMs: number | null;
}

/** The price table's YAML for `facts`. */
export function pricesYaml(facts: PriceFacts): string {
  return [
    "currency: USD",
    `resourceWeights: { cpuCoreHour: ${facts.weights.cpu}, memoryGiBHour: ${facts.weights.memoryGiB} }`,
    "instanceTypes:",
    ...Object.entries(facts.prices).map(([type, p]) => `  ${type}: { onDemand: ${p.onDemand}${p.spot === undefined ? "" : `, spot: ${p.spot}`} }`),
  ].join("\n");
}

/** A pod's requests, all containers together, as the pod object says them. */
export function requestsOf(pod: V1Pod): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of pod.spec!.containers) {
    cpu += parseQuantity(String(c.resources?.requests?.cpu ?? "0"))!;
    memory += parseQuantity(String(c.resources?.requests?.memory ?? "0"))!;
  }
  return { cpu, memory };
}

/** Family → series (its labels as sorted JSON) → value. */
export type CostSeries = Map<string, Map<string, number>>;

/** Every cost counter, counting each pod's hold within [fromMs, toMs] (open holds up to `toMs`). */
export function costTruth(nodes: readonly NodeFacts[], pods: readonly PodFacts[], table: PriceFacts, window: { fromMs?: number; toMs: number }): CostSeries {
  const out: CostSeries = new Map();
  const add = (family: string, labels: Record<string, string>, value: number) => {
    const series = out.get(family) ?? new Map<string, number>();
    const key = JSON.stringify(Object.entries(labels).sort());
    series.set(key, (series.get(key) ?? 0) + value);
    out.set(family, series);
  };
  const busy = new Map<string, Array<[number, number]>>();
  const shareSeconds = new Map<string, number>();
  for (const pod of pods) {
    const node = nodes.find((n) => n.name === pod.node)!;
    const from = Math.max(pod.boundAtMs, window.fromMs ?? -Infinity);
    const end = Math.min(pod.endAtMs ?? window.toMs, window.toMs);
    if (end <= from) continue;
    const seconds = (end - from) / 1000;
    const { weights } = table;
    const share = (pod.cpu * weights.cpu + (pod.memory / GIB) * weights.memoryGiB) / (node.cpu * weights.cpu + node.memoryGiB * weights.memoryGiB);
    const capacityType = node.spot ? "spot" : "on_demand";
    const group = { project: pod.project, capacity_type: capacityType, nodegroup: node.nodegroup, instance_type: node.instanceType };
    add("gitlab_ci_job_cpu_core_seconds_total", group, pod.cpu * seconds);
    add("gitlab_ci_job_memory_byte_seconds_total", group, pod.memory * seconds);
    busy.set(node.name, [...(busy.get(node.name) ?? []), [from, end]]);
    shareSeconds.set(node.name, (shareSeconds.get(node.name) ?? 0) + share * seconds);
    const price = table.prices[node.instanceType];
    const hourly = node.spot ? price?.spot : price?.onDemand;
    if (hourly === undefined) continue;
    const cost = (share * hourly * seconds) / 3600;
    add("gitlab_ci_job_cost_total", { project: pod.project, capacity_type: capacityType }, cost);
    add("gitlab_ci_job_on_demand_cost_total", { project: pod.project, capacity_type: capacityType }, (share * price!.onDemand * seconds) / 3600);
    add("gitlab_ci_job_cost_by_ref_total", { project: pod.project, ref: pod.ref }, cost);
    add("gitlab_ci_job_cost_by_job_name_total", { project: pod.project, job_name: pod.jobName }, cost);
  }
  for (const [name, intervals] of busy) {
    const node = nodes.find((n) => n.name === name)!;
    const occupied = unionSeconds(intervals);
    const idle = occupied - shareSeconds.get(name)!;
    const labels = { nodegroup: node.nodegroup, capacity_type: node.spot ? "spot" : "on_demand", instance_type: node.instanceType };
    add("gitlab_ci_node_occupied_seconds_total", labels, occupied);
    add("gitlab_ci_node_idle_seconds_total", labels, idle);
    const price = table.prices[node.instanceType];
    const hourly = node.spot ? price?.spot : price?.onDemand;
    if (hourly !== undefined) add("gitlab_ci_node_idle_cost_total", labels, (idle * hourly) / 3600);
  }
  return out;
}

/** The seconds covered by the union of the intervals. */
export function unionSeconds(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = intervals.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [from, to] = [-Infinity, -Infinity];
  for (const [s, e] of sorted) {
    if (s > to) {
      if (to > from) total += to - from;
      [from, to] = [s, e];
    } else to = Math.max(to, e);
  }
  if (to > from) total += to - from;
  return total / 1000;
}

/** The samples of the families `like` names, keyed as `costTruth` keys them; several replicas' summed. */
export function costSeriesOf(replicas: ReadonlyArray<readonly Sample[]>, like: CostSeries): CostSeries {
  const out: CostSeries = new Map([...like.keys()].map((family) => [family, new Map<string, number>()]));
  for (const samples of replicas) {
    for (const s of samples) {
      const series = out.get(s.name);
      if (!series) continue;
      const key = JSON.stringify(Object.entries(s.labels).sort());
      series.set(key, (series.get(key) ?? 0) + s.value);
    }
  }
  return out;
}

/** Where `actual` departs from `expected` by more than `tolerance` (relative), or has other series. */
export function costMismatches(actual: CostSeries, expected: CostSeries, tolerance: number): string[] {
  const out: string[] = [];
  for (const [family, series] of expected) {
    const got = actual.get(family) ?? new Map<string, number>();
    for (const key of new Set([...series.keys(), ...got.keys()])) {
      const [want, value] = [series.get(key), got.get(key)];
      // A series that never grew (a pod whose whole hold lies outside the window) may be there at 0.
      if (want === undefined && value === 0) continue;
      if (want === undefined || value === undefined || Math.abs(value - want) > tolerance * Math.abs(want)) out.push(`${family} ${key}: exported ${value}, expected ${want}`);
    }
  }
  return out;
}
