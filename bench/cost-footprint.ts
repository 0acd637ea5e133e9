/**
 * What the cost families add, measured in process at the benchmark's scale: the job pods and
 * nodes the benchmark's cluster holds, decoded as the exporter decodes them, applied to the node
 * and pod state twice, without and with the cost state and its families; then the same pod churn
 * as the benchmark's soak. Reports the heap the cost state and families add, their series per
 * family, and the time a scrape spends rendering them. `npm run bench` runs it with the rest;
 * alone: `node --expose-gc --import tsx bench/cost-footprint.ts [--quick]`.
 */
import { parse } from "yaml";
import { priceTableFrom } from "../src/config/prices.js";
import { loadConfig } from "../src/config/load.js";
import type { NodeSnapshot, PodSnapshot } from "../src/domain/pod.js";
import { buildFamilies } from "../src/metrics/exposition/generator.js";
import { COST_FAMILIES } from "../src/metrics/families/cost.js";
import { buildOnDemandNode, buildRunnerJobPod, buildSpotNode, podRunning, simulatedPricesYaml } from "../src/simulator/kube/index.js";
import { CostLedger } from "../src/state/cost.js";
import { NodeStore } from "../src/state/nodes.js";
import { PodStore } from "../src/state/pods.js";
import { toNodeSnapshot, toPodSnapshot } from "../src/sources/kube/wire.js";

export interface CostScale {
  readonly projects: number;
  readonly pods: number;
  readonly nodes: number;
  readonly spotNodes: number;
  readonly podChurn: number;
}

export interface CostFootprint {
  /** Heap the cost state and families add over the node and pod state alone, MiB. */
  readonly heapMiB: number;
  /** The same after the pod churn. */
  readonly heapAfterChurnMiB: number;
  readonly seriesByFamily: Readonly<Record<string, number>>;
  readonly series: number;
  readonly seriesAfterChurn: number;
  /** Rendering every cost family once, ms (the median of 20). */
  readonly renderMs: number;
}

const config = loadConfig({ GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "bench", GITLAB_PROJECTS: "a/b" });
const prices = priceTableFrom(parse(simulatedPricesYaml()), "simulated");

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error("run with --expose-gc");
  collect();
  collect();
}

const heapMiB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** The benchmark's cluster, as the exporter's decoders see it. */
function cluster(scale: CostScale): { nodes: NodeSnapshot[]; pod: (i: number) => PodSnapshot } {
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < scale.nodes; i++) {
    const options = { name: `ip-10-1-${Math.floor(i / 250)}-${i % 250}.compute.internal`, zone: ["us-west-2a", "us-west-2b", "us-west-2c"][i % 3]!, nodegroup: i < scale.spotNodes ? `ci-spot-${i % 4}` : "ci-ondemand", createdAt: new Date(Date.now() - 3_600_000) };
    const raw = i < scale.spotNodes ? buildSpotNode(options) : buildOnDemandNode(options);
    raw.metadata!.uid = `node-${i}`;
    nodes.push(toNodeSnapshot(raw, config.kube.nodes)!);
  }
  const pod = (i: number): PodSnapshot => {
    const raw = buildRunnerJobPod({ projectId: 100 + (i % scale.projects), projectPath: `fleet/team-${i % 20}/service-${i % scale.projects}`, jobId: 5_000_000 + i, jobName: `job-${i % 40}`, ref: `feature/branch-${i % 500}`, nodeName: nodes[i % nodes.length]!.name, suffix: `p${i}`, requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } });
    podRunning(raw, new Date());
    raw.metadata!.uid = `pod-${i}`;
    return toPodSnapshot(raw, config.kube.pods)!;
  };
  return { nodes, pod };
}

/** The node and pod state with the cluster applied, with the cost state and its families when `cost`. */
function house(scale: CostScale, withCost: boolean) {
  let now = Date.now();
  const clock = () => now;
  const nodeStore = new NodeStore();
  const pods = new PodStore(nodeStore);
  const ledger = withCost ? new CostLedger(pods, nodeStore, { prices, now: clock }) : null;
  const families = ledger ? buildFamilies(COST_FAMILIES, { limit: { maxPerFamily: 50_000, refused: () => undefined } }, { cost: ledger }) : [];
  const { nodes, pod } = cluster(scale);
  nodeStore.replaceAll(nodes, now);
  const live = () => ({ nowMs: now, observeEndedBuilds: true });
  for (let i = 0; i < scale.pods; i++) pods.upsert(pod(i), live());
  now += 60_000;
  const render = () => families.map((family) => family.render()).join("");
  render();
  let serial = scale.pods;
  const churn = () => {
    for (let i = 0; i < scale.podChurn; i++, serial++) {
      now += 10;
      const gone = pod(serial - scale.pods);
      pods.remove({ ...gone, phase: "Succeeded", finishedAtMs: now }, now);
      pods.upsert(pod(serial), live());
    }
    render();
  };
  return { render, churn, keep: [nodeStore, pods, ledger, families] };
}

function seriesOf(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

export function costFootprint(scale: CostScale): CostFootprint {
  const base = heapMiB();
  let without: ReturnType<typeof house> | null = house(scale, false);
  const plain = heapMiB() - base;
  without.churn();
  const plainChurned = heapMiB() - base;
  without = null;
  const baseAgain = heapMiB();
  const withCost = house(scale, true);
  const costly = heapMiB() - baseAgain;
  const seriesByFamily = seriesOf(withCost.render());
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    withCost.render();
    times.push(performance.now() - started);
  }
  withCost.churn();
  const costlyChurned = heapMiB() - baseAgain;
  const seriesAfterChurn = Object.values(seriesOf(withCost.render())).reduce((a, b) => a + b, 0);
  return {
    heapMiB: costly - plain,
    heapAfterChurnMiB: costlyChurned - plainChurned,
    seriesByFamily,
    series: Object.values(seriesByFamily).reduce((a, b) => a + b, 0),
    seriesAfterChurn,
    renderMs: times.sort((a, b) => a - b)[10]!,
  };
}

if (process.argv[1]?.endsWith("cost-footprint.ts")) {
  const quick = process.argv.includes("--quick");
  const scale = quick ? { projects: 200, pods: 1000, nodes: 50, spotNodes: 30, podChurn: 10_000 } : { projects: 1000, pods: 10_000, nodes: 500, spotNodes: 300, podChurn: 100_000 };
  console.log(JSON.stringify({ scale, ...costFootprint(scale) }, null, 2));
}
