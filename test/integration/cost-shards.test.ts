/**
 * What CI costs, counted by three shards of the real exporter and by one unsharded replica beside
 * them, with a price table, against one simulated cluster of known nodes and job pods: summed over
 * the shards, every cost family is the single replica's and the ground truth computed from the
 * pods' and nodes' facts, the node families included (a node's idle part needs every pod on it,
 * whichever shard exports the pod); and no cost series comes from two shards.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { shardOfNodeType, shardOfProject } from "../../src/domain/shard.js";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { buildOnDemandNode, buildRunnerJobPod, buildSpotNode, KubeWorld, podCreating, podRunning, podTerminated, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { costMismatches, costSeriesOf, costTruth, pricesYaml, requestsOf, type NodeFacts, type PodFacts, type PriceFacts } from "../helpers/cost-truth.js";
import { spawnExporter, waitFor, type ExporterProcess } from "../helpers/exporter-process.js";
import { eventually, scrape, type Sample } from "../helpers/prom.js";
import { seriesKey } from "../helpers/shard-sums.js";
import { startShardFleet, waitFleetReady, type ShardFleet } from "../helpers/shard-fleet.js";

const TOKEN = "glpat-cost-shards-0123456789";
const SHARDS = 3;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const TOLERANCE = 0.005;
const TABLE: PriceFacts = {
  weights: { cpu: 0.04, memoryGiB: 0.005 },
  // m6i.2xlarge has no spot price: its spot node is unpriced.
  prices: { "c5a.2xlarge": { onDemand: 0.308, spot: 0.1201 }, "m5.2xlarge": { onDemand: 0.384, spot: 0.1502 }, "m6i.xlarge": { onDemand: 0.192, spot: 0.0721 }, "m6i.2xlarge": { onDemand: 0.384 } },
};
const NODES: NodeFacts[] = [
  { name: "spot-c5a-1", instanceType: "c5a.2xlarge", spot: true, nodegroup: "ci-spot", cpu: 7.91, memoryGiB: 15 },
  { name: "spot-c5a-2", instanceType: "c5a.2xlarge", spot: true, nodegroup: "ci-spot", cpu: 7.91, memoryGiB: 15 },
  { name: "od-c5a-1", instanceType: "c5a.2xlarge", spot: false, nodegroup: "ci-ondemand", cpu: 7.91, memoryGiB: 15 },
  { name: "spot-m5-1", instanceType: "m5.2xlarge", spot: true, nodegroup: "ci-spot-m5", cpu: 7.91, memoryGiB: 30 },
  { name: "spot-m6i2-1", instanceType: "m6i.2xlarge", spot: true, nodegroup: "ci-spot-m6i", cpu: 7.91, memoryGiB: 30 },
  { name: "od-m6i-1", instanceType: "m6i.xlarge", spot: false, nodegroup: "ci-ondemand", cpu: 3.92, memoryGiB: 14 },
];
/** The cost families whose series each belong to one project or one node type: one shard each. */
const COST_FAMILY = /^gitlab_ci_(job_(cpu_core_seconds|memory_byte_seconds|cost|on_demand_cost|cost_by_ref|cost_by_job_name)_total|node_(occupied_seconds|idle_seconds|idle_cost)_total|nodes_unpriced)$/;

const T = Math.floor(Date.now() / 1000) * 1000;
const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
const cluster = new KubeWorld();
const pods: PodFacts[] = [];
let gitlab: GitLabSimulator;
let kube: KubeSimulator;
let fleet: ShardFleet;
let single: ExporterProcess;
let dir: string;

function buildWorlds(): void {
  world.addGroup("acme");
  Array.from({ length: 9 }, (_, i) => world.addProject(`acme/service-${i}`));
  for (const node of NODES) {
    const shape = { name: node.name, instanceType: node.instanceType, nodegroup: node.nodegroup, zone: "us-east-1a", createdAt: new Date(T - 5 * HOUR), allocatable: { cpu: String(node.cpu), memory: `${node.memoryGiB}Gi` } };
    cluster.addNode(node.spot ? buildSpotNode(shape) : buildOnDemandNode(shape));
  }
}

/**
 * 48 job pods of 9 projects over the 6 nodes, bound 3 h ago and after, 3.3 min apart: most held
 * their node 12 min, a quarter and more still run (four of them on the unpriced node). Created after the exporters watch, so that
 * each is counted from its binding.
 */
function addPods(): void {
  const projects = world.projects();
  for (let i = 0; i < 48; i++) {
    const project = projects[i % projects.length]!;
    const node = NODES[i % NODES.length]!;
    const facts = { name: `p${i}`, project: project.pathWithNamespace, ref: `branch-${i % 5}`, jobName: `job-${i % 7}`, node: node.name, boundAtMs: T - 3 * HOUR + i * 3.3 * MINUTE };
    const pod = buildRunnerJobPod({ projectId: project.id, projectPath: project.pathWithNamespace, jobId: 5000 + i, jobName: facts.jobName, ref: facts.ref, suffix: facts.name, requests: { cpu: ["250m", "500m", "1"][i % 3]!, memory: ["512Mi", "1Gi", "2Gi", "3Gi"][i % 4]! } });
    podCreating(pod, node.name, new Date(facts.boundAtMs));
    podRunning(pod, new Date(facts.boundAtMs + 5000));
    const endAtMs = i % 4 === 3 || i % 12 === 10 ? null : facts.boundAtMs + 12 * MINUTE;
    if (endAtMs !== null) podTerminated(pod, { finishedAt: new Date(endAtMs), exitCode: i % 5 === 0 ? 1 : 0 });
    pods.push({ ...facts, ...requestsOf(pod), endAtMs });
    cluster.addPod(pod);
  }
}

beforeAll(async () => {
  buildWorlds();
  gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
  kube = await startKubeSimulator({ world: cluster, bookmarkIntervalMs: 500 });
  dir = await mkdtemp(path.join(tmpdir(), "cost-shards-"));
  const kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  await writeFile(path.join(dir, "prices.yaml"), `${pricesYaml(TABLE)}\n`);
  const env = {
    GITLAB_URL: gitlab.url,
    GITLAB_TOKEN: TOKEN,
    GITLAB_GROUPS: "acme",
    GITLAB_POLL_INTERVAL_SECONDS: "2",
    KUBECONFIG: kubeconfig,
    KUBE_NODE_PRICES_FILE: path.join(dir, "prices.yaml"),
    SHUTDOWN_GRACE_SECONDS: "0",
    LOG_LEVEL: "error",
  };
  fleet = await startShardFleet(SHARDS, { ...env, TOTAL_SHARDS: String(SHARDS) });
  const spawned = Promise.all(fleet.replicas.map((r) => fleet.spawn(r.ordinal)));
  single = await spawnExporter(env);
  await spawned;
  await Promise.all([waitFleetReady(fleet), waitFor(single, "/readyz", 60_000)]);
}, 90_000);

afterAll(async () => {
  await fleet?.close();
  await single?.kill();
  await gitlab?.close();
  await kube?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`${SHARDS} shards counting what CI costs`, () => {
  it("add up to one replica and to the ground truth in every cost family, the node families included, each series from one shard", async () => {
    onTestFailed(() => console.error(fleet.outputs()));
    // The split puts pods of every shard on nodes another shard counts.
    const projectShards = new Set(world.projects().map((p) => shardOfProject(p.id, SHARDS)));
    const nodeShards = new Set(NODES.map((n) => shardOfNodeType(n.instanceType, n.spot ? "spot" : "on_demand", SHARDS)));
    expect([projectShards.size, nodeShards.size]).toEqual([SHARDS, SHARDS]);
    addPods();

    const { shards, one, truth } = await eventually(async () => {
      const [shards, one] = await Promise.all([Promise.all(fleet.replicas.map((r) => scrape(r.url))), scrape(single.url)]);
      const truth = { high: costTruth(NODES, pods, TABLE, { toMs: Date.now() }) };
      // The running pods grow while the replicas are scraped: the truth at the latest moment, within the tolerance.
      expect(costMismatches(costSeriesOf(shards, truth.high), truth.high, TOLERANCE)).toEqual([]);
      expect(costMismatches(costSeriesOf([one], truth.high), truth.high, TOLERANCE)).toEqual([]);
      return { shards, one, truth };
    }, 30_000, 500);
    expect(costMismatches(costSeriesOf(shards, truth.high), costSeriesOf([one], truth.high), TOLERANCE)).toEqual([]);

    // Each cost series from one shard; the gauge of unpriced nodes too, which the single replica exports alike.
    const owners = new Map<string, number[]>();
    shards.forEach((samples, shard) => samples.filter((s) => COST_FAMILY.test(s.name)).forEach((s) => owners.set(seriesKey(s), [...(owners.get(seriesKey(s)) ?? []), shard])));
    expect([...owners].filter(([, of]) => of.length > 1)).toEqual([]);
    const unpriced = (samples: Sample[][]) => samples.flat().filter((s) => s.name === "gitlab_ci_nodes_unpriced").map((s) => [s.labels, s.value]);
    expect(unpriced(shards)).toEqual([[{ instance_type: "m6i.2xlarge", capacity_type: "spot" }, 1]]);
    expect(unpriced([one])).toEqual(unpriced(shards));
    const nodeSeries = [...owners.keys()].filter((key) => key.startsWith("gitlab_ci_node_occupied_seconds_total")).length;
    console.log(`${SHARDS} shards: ${owners.size} cost series, each from one shard (${nodeSeries} node groups' occupied time), equal to one replica's and to the ground truth within ${TOLERANCE * 100} %`);
  }, 60_000);
});
