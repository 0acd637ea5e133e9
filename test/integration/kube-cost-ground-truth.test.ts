import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COST_READING_REUSE_MS } from "../../src/state/cost.js";
import {
  addDisruptionTarget,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  KubeWorld,
  NODE_TAINTS,
  podCreating,
  podRunning,
  podTerminated,
  taintNode,
} from "../../src/simulator/kube/index.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { GIB, requestsOf, unionSeconds } from "../helpers/cost-truth.js";

/**
 * Ground truth for what CI costs: job pods of known requests on nodes of known instance types,
 * capacity types, allocatable resources and prices, holding them for known times (bindings and
 * ends hours apart, told by the pods' and nodes' own timestamps), against the simulated API over
 * client-node. Among them a pod still running when the reading is taken, one taken down by a spot
 * interruption, and a watch outage in the middle, after which the exporter lists everything again:
 * a pod that finished and was deleted meanwhile, one that finished and is still there, one created
 * meanwhile. Every exported cost counter is computed here from those facts alone and must match
 * within 0.5 %.
 */
const HOUR = 3_600_000;
const MINUTE = 60_000;
const TOLERANCE = 0.005;
/** Relative unit prices of a core-hour and a GiB-hour: how a node's price splits between them. */
const WEIGHTS = { cpu: 0.04, memoryGiB: 0.005 };
const PRICES: Record<string, { onDemand: number; spot: number }> = {
  "c5a.2xlarge": { onDemand: 0.308, spot: 0.1201 },
  "m5.2xlarge": { onDemand: 0.384, spot: 0.1502 },
  "m6i.xlarge": { onDemand: 0.192, spot: 0.0721 },
};
const PRICES_YAML = [
  "currency: USD",
  `resourceWeights: { cpuCoreHour: ${WEIGHTS.cpu}, memoryGiBHour: ${WEIGHTS.memoryGiB} }`,
  "instanceTypes:",
  ...Object.entries(PRICES).map(([type, p]) => `  ${type}: { onDemand: ${p.onDemand}, spot: ${p.spot} }`),
].join("\n");

interface NodeTruth {
  readonly name: string;
  readonly instanceType: string;
  readonly spot: boolean;
  readonly nodegroup: string;
  readonly cpu: number;
  readonly memoryGiB: number;
  goneAtMs?: number;
}

interface PodTruth {
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

const T = Math.floor(Date.now() / 1000) * 1000;
const nodes: NodeTruth[] = [
  { name: "spot-a", instanceType: "c5a.2xlarge", spot: true, nodegroup: "ci-spot", cpu: 8, memoryGiB: 16 },
  { name: "spot-b", instanceType: "m5.2xlarge", spot: true, nodegroup: "ci-spot", cpu: 7.91, memoryGiB: 30 },
  { name: "spot-c", instanceType: "m5.2xlarge", spot: true, nodegroup: "ci-spot", cpu: 7.91, memoryGiB: 30 },
  { name: "od-a", instanceType: "m6i.xlarge", spot: false, nodegroup: "ci-ondemand", cpu: 4, memoryGiB: 15 },
];
const pods: PodTruth[] = [];

const nodeOf = (name: string) => nodes.find((n) => n.name === name)!;
const capacityType = (node: NodeTruth) => (node.spot ? "spot" : "on_demand");

let jobIds = 100;
function jobPod(truth: Omit<PodTruth, "cpu" | "memory" | "endAtMs">, requests: { cpu: string; memory: string }): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 4, projectPath: truth.project, jobId: jobIds++, jobName: truth.jobName, ref: truth.ref, requests, suffix: truth.name });
  podCreating(pod, truth.node, new Date(truth.boundAtMs));
  podRunning(pod, new Date(truth.boundAtMs + 5000));
  pods.push({ ...truth, ...requestsOf(pod), endAtMs: null });
  return pod;
}

const truthOf = (name: string) => pods.find((p) => p.name === name)!;

type Expected = Map<string, Map<string, number>>;

/** Every cost counter, computed from the pods' and nodes' facts up to `nowMs`. */
function expectedAt(nowMs: number): Expected {
  const out: Expected = new Map();
  const add = (family: string, labels: Record<string, string>, value: number) => {
    const series = out.get(family) ?? new Map<string, number>();
    const key = JSON.stringify(Object.entries(labels).sort());
    series.set(key, (series.get(key) ?? 0) + value);
    out.set(family, series);
  };
  const busy = new Map<string, Array<[number, number]>>();
  const shareSeconds = new Map<string, number>();
  for (const pod of pods) {
    const node = nodeOf(pod.node);
    const end = Math.min(pod.endAtMs ?? nowMs, node.goneAtMs ?? Infinity);
    const seconds = Math.max(0, (end - pod.boundAtMs) / 1000);
    const share = (pod.cpu * WEIGHTS.cpu + (pod.memory / GIB) * WEIGHTS.memoryGiB) / (node.cpu * WEIGHTS.cpu + node.memoryGiB * WEIGHTS.memoryGiB);
    const price = PRICES[node.instanceType]!;
    const hourly = node.spot ? price.spot : price.onDemand;
    const cost = (share * hourly * seconds) / 3600;
    const group = { project: pod.project, capacity_type: capacityType(node), nodegroup: node.nodegroup, instance_type: node.instanceType };
    add("gitlab_ci_job_cpu_core_seconds_total", group, pod.cpu * seconds);
    add("gitlab_ci_job_memory_byte_seconds_total", group, pod.memory * seconds);
    add("gitlab_ci_job_cost_total", { project: pod.project, capacity_type: capacityType(node) }, cost);
    add("gitlab_ci_job_on_demand_cost_total", { project: pod.project, capacity_type: capacityType(node) }, (share * price.onDemand * seconds) / 3600);
    add("gitlab_ci_job_cost_by_ref_total", { project: pod.project, ref: pod.ref }, cost);
    add("gitlab_ci_job_cost_by_job_name_total", { project: pod.project, job_name: pod.jobName }, cost);
    busy.set(node.name, [...(busy.get(node.name) ?? []), [pod.boundAtMs, end]]);
    shareSeconds.set(node.name, (shareSeconds.get(node.name) ?? 0) + share * seconds);
  }
  for (const [name, intervals] of busy) {
    const node = nodeOf(name);
    const occupied = unionSeconds(intervals);
    const idle = occupied - shareSeconds.get(name)!;
    const labels = { nodegroup: node.nodegroup, capacity_type: capacityType(node), instance_type: node.instanceType };
    add("gitlab_ci_node_occupied_seconds_total", labels, occupied);
    add("gitlab_ci_node_idle_seconds_total", labels, idle);
    add("gitlab_ci_node_idle_cost_total", labels, (idle * (node.spot ? PRICES[node.instanceType]!.spot : PRICES[node.instanceType]!.onDemand)) / 3600);
  }
  return out;
}

/** The exported series of every family `expected` names, keyed alike. */
function exported(samples: Sample[], expected: Expected): Expected {
  const out: Expected = new Map();
  for (const family of expected.keys()) {
    const series = new Map<string, number>();
    for (const s of samples.filter((x) => x.name === family)) series.set(JSON.stringify(Object.entries(s.labels).sort()), s.value);
    out.set(family, series);
  }
  return out;
}

/**
 * Every series as expected within the tolerance, none missing, none more. A reading is taken at a
 * moment known only to lie between `low` and `high` (the truths at both ends): a counter of a pod
 * still running lies between them.
 */
function expectWithin(actual: Expected, { low, high }: { low: Expected; high: Expected }, when: string): void {
  for (const [family, series] of high) {
    const got = actual.get(family)!;
    expect([...got.keys()].sort(), `${family} series ${when}`).toEqual([...series.keys()].sort());
    for (const [key, upper] of series) {
      const lower = low.get(family)?.get(key) ?? 0;
      const value = got.get(key)!;
      const error = value > upper ? value / upper - 1 : value < lower ? 1 - value / lower : 0;
      expect(error, `${family} ${key} ${when}: exported ${value}, expected ${lower} to ${upper}`).toBeLessThan(TOLERANCE);
    }
  }
}

/** A scrape, and the truth at both ends of the moments its reading may have been taken at. */
async function reading(env: KubeStack): Promise<{ samples: Sample[]; actual: Expected; expected: { low: Expected; high: Expected } }> {
  const before = Date.now();
  const samples = await env.stack.scrape();
  const expected = { low: expectedAt(before - COST_READING_REUSE_MS), high: expectedAt(Date.now()) };
  return { samples, actual: exported(samples, expected.high), expected };
}

describe("what CI costs, against the simulated cluster's ground truth", () => {
  let env: KubeStack;
  const world = new KubeWorld();

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "cost-truth-"));
    writeFileSync(join(dir, "prices.yaml"), `${PRICES_YAML}\n`);
    const created = new Date(T - 5 * HOUR);
    for (const node of nodes) {
      const shape = { name: node.name, instanceType: node.instanceType, nodegroup: node.nodegroup, zone: "us-east-1a", createdAt: created, allocatable: { cpu: String(node.cpu), memory: `${node.memoryGiB}Gi` } };
      world.addNode(node.spot ? buildSpotNode(shape) : buildOnDemandNode(shape));
    }
    env = await startKubeStack({ KUBE_NODE_PRICES_FILE: join(dir, "prices.yaml"), KUBE_INTERRUPTION_SETTLE_SECONDS: "0.2" }, world);
  });
  afterAll(() => env?.close());

  it("counts every pod's hold exactly: finished, running, interrupted, and across a watch outage and re-list", async () => {
    // Finished before the reading: 2 h on spot-a, and 90 min on the on-demand node (failed).
    const p1 = jobPod({ name: "p1", project: "acme/api", ref: "main", jobName: "build", node: "spot-a", boundAtMs: T - 3 * HOUR }, { cpu: "2", memory: "4Gi" });
    podTerminated(p1, { finishedAt: new Date(T - HOUR), exitCode: 0 });
    truthOf("p1").endAtMs = T - HOUR;
    const p3 = jobPod({ name: "p3", project: "acme/web", ref: "main", jobName: "lint", node: "od-a", boundAtMs: T - 2 * HOUR }, { cpu: "500m", memory: "1Gi" });
    podTerminated(p3, { finishedAt: new Date(T - 30 * MINUTE), exitCode: 1 });
    truthOf("p3").endAtMs = T - 30 * MINUTE;
    // Still running when the readings are taken.
    const p2 = jobPod({ name: "p2", project: "acme/api", ref: "feature/x", jobName: "test", node: "spot-a", boundAtMs: T - 2 * HOUR }, { cpu: "1", memory: "2Gi" });
    // Taken down by a spot interruption 40 minutes ago.
    const p4 = jobPod({ name: "p4", project: "acme/web", ref: "main", jobName: "e2e", node: "spot-b", boundAtMs: T - 90 * MINUTE }, { cpu: "4", memory: "8Gi" });
    // On spot-c, reclaimed without notice 20 minutes ago: its node goes first, its pod later.
    const p6 = jobPod({ name: "p6", project: "acme/web", ref: "feature/y", jobName: "e2e", node: "spot-c", boundAtMs: T - 70 * MINUTE }, { cpu: "3", memory: "6Gi" });
    // Running until the outage: p5 finishes and is deleted during it, p7 finishes and stays.
    const p5 = jobPod({ name: "p5", project: "acme/api", ref: "release", jobName: "deploy", node: "od-a", boundAtMs: T - HOUR }, { cpu: "1", memory: "1Gi" });
    const p7 = jobPod({ name: "p7", project: "acme/api", ref: "main", jobName: "build", node: "spot-a", boundAtMs: T - 45 * MINUTE }, { cpu: "2", memory: "2Gi" });
    for (const pod of [p1, p2, p3, p4, p5, p6, p7]) world.addPod(pod);

    // The spot interruption: the termination handler taints spot-b and evicts its pod (deletion due
    // 40 minutes ago), and the node goes a minute later.
    world.updateNode("spot-b", (node) => taintNode(node, NODE_TAINTS.spotInterruption));
    const p4name = p4.metadata!.name!;
    world.updatePod("gitlab-runner", p4name, (pod) => {
      addDisruptionTarget(pod, "EvictionByEvictionAPI");
      pod.metadata!.deletionTimestamp = new Date(T - 40 * MINUTE);
    });
    world.deletePod("gitlab-runner", p4name);
    truthOf("p4").endAtMs = T - 40 * MINUTE;
    world.updateNode("spot-b", (node) => {
      node.metadata!.deletionTimestamp = new Date(T - 39 * MINUTE);
    });
    world.deleteNode("spot-b");
    nodeOf("spot-b").goneAtMs = T - 39 * MINUTE;
    // spot-c vanishes without a sign; the pod garbage collector deletes its pod once the node is
    // gone (its deletion due now: the hold ends with the node).
    world.updateNode("spot-c", (node) => {
      node.metadata!.deletionTimestamp = new Date(T - 20 * MINUTE);
    });
    world.deleteNode("spot-c");
    nodeOf("spot-c").goneAtMs = T - 20 * MINUTE;
    await eventually(async () => expect((await env.stack.scrape()).some((s) => s.name === "gitlab_ci_spot_node_created_timestamp_seconds" && s.labels.node === "spot-c")).toBe(false));
    world.deletePod("gitlab-runner", p6.metadata!.name!);

    // Counted while the pods run, visible at each scrape, never lower than before.
    const first = await eventually(async () => {
      const r = await reading(env);
      expectWithin(r.actual, r.expected, "before the outage");
      expect(sum(r.samples, "gitlab_ci_job_pods_interrupted_total", { reason: "spot_interruption" })).toBe(1);
      expect(sum(r.samples, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
      return r;
    }, 15_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = await reading(env);
    expectWithin(second.actual, second.expected, "a second later");
    const running = { project: "acme/api", capacity_type: "spot" };
    const cores = (r: { samples: Sample[] }) => sum(r.samples, "gitlab_ci_job_cpu_core_seconds_total", running);
    // p2, p7 and their helpers (1.1 + 2.1 cores) ran on for about a second.
    expect(cores(second) - cores(first)).toBeGreaterThan(3.2 * 0.8);
    expect(cores(second) - cores(first)).toBeLessThan(3.2 * 3);

    // The outage: every watch and list refused; meanwhile p5 finishes and is deleted, p7
    // finishes, p8 is created and bound. Then the exporter lists everything again.
    const listsBefore = env.kube.requests.count((r) => r.kind === "list");
    env.kube.faults.failWatches({ status: 503 });
    env.kube.faults.failLists({ status: 503 });
    env.kube.faults.dropStreams();
    await new Promise((resolve) => setTimeout(resolve, 700));
    const during = await reading(env);
    const finishedAt = Date.now();
    for (const [pod, truth] of [[p5, "p5"], [p7, "p7"]] as const) {
      world.updatePod("gitlab-runner", pod.metadata!.name!, (p) => podTerminated(p, { finishedAt: new Date(finishedAt), exitCode: 0 }));
      truthOf(truth).endAtMs = finishedAt;
    }
    world.deletePod("gitlab-runner", p5.metadata!.name!);
    const p8 = jobPod({ name: "p8", project: "acme/api", ref: "hotfix", jobName: "smoke", node: "spot-a", boundAtMs: finishedAt }, { cpu: "1", memory: "1Gi" });
    world.addPod(p8);
    await new Promise((resolve) => setTimeout(resolve, 500));
    env.kube.faults.clear();

    const after = await eventually(async () => {
      const r = await reading(env);
      expect(r.samples.some((s) => s.name === "gitlab_ci_job_pod_info" && s.labels.pod === p8.metadata!.name)).toBe(true);
      expect(r.samples.some((s) => s.name === "gitlab_ci_job_pod_info" && s.labels.pod === p5.metadata!.name)).toBe(false);
      return r;
    }, 15_000, 100);
    expect(env.kube.requests.count((r) => r.kind === "list")).toBeGreaterThan(listsBefore);
    expectWithin(after.actual, after.expected, "after the re-list");
    // Nothing counted twice, nothing going back: every series at least what it read during the outage.
    for (const [family, series] of during.actual) {
      for (const [key, value] of series) expect(after.actual.get(family)!.get(key)!, `${family} ${key}`).toBeGreaterThanOrEqual(value);
    }
    expect(sum(after.samples, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
    expect(after.samples.filter((s) => s.name === "gitlab_ci_cost_currency_info").map((s) => s.labels)).toEqual([{ currency: "USD" }]);
    expect(after.samples.filter((s) => s.name === "gitlab_ci_nodes_unpriced")).toEqual([]);
  }, 60_000);
});
