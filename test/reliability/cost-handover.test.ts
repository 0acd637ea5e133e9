/**
 * What CI costs, across a handover: one shard of two replicas of the real exporter with a price
 * table; the active one is killed (SIGKILL) while job pods hold their nodes, one of them ends
 * before the standby takes over and one starts. The standby's cost counters count from its
 * predecessor's last renewal of the Lease, exactly: the pods still holding their nodes from then,
 * the one that ended meanwhile for its part after then, nothing before. What the killed replica
 * exported up to its last scrape and what its successor counts add up to the ground truth, short
 * of the overlap between that scrape and the last renewal.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, it, onTestFailed } from "vitest";
import { GitLabWorld, startGitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { buildOnDemandNode, buildRunnerJobPod, buildSpotNode, KubeWorld, podCreating, podRunning, podTerminated, startKubeSimulator } from "../../src/simulator/kube/index.js";
import { costMismatches, costSeriesOf, costTruth, pricesYaml, requestsOf, type NodeFacts, type PodFacts, type PriceFacts } from "../helpers/cost-truth.js";
import { eventually, scrape, sum } from "../helpers/prom.js";
import { startShardFleet, waitFleetReady } from "../helpers/shard-fleet.js";

const TOKEN = "glpat-cost-handover-0123456789";
const LEASE_SECONDS = 6;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const TOLERANCE = 0.005;
const TABLE: PriceFacts = { weights: { cpu: 0.04, memoryGiB: 0.005 }, prices: { "c5a.2xlarge": { onDemand: 0.308, spot: 0.1201 }, "m6i.xlarge": { onDemand: 0.192, spot: 0.0721 } } };
const NODES: NodeFacts[] = [
  { name: "spot-a", instanceType: "c5a.2xlarge", spot: true, nodegroup: "ci-spot", cpu: 7.91, memoryGiB: 15 },
  { name: "od-a", instanceType: "m6i.xlarge", spot: false, nodegroup: "ci-ondemand", cpu: 3.92, memoryGiB: 14 },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The next whole second at least `ms` from now: pod times travel in whole seconds. */
const nextSecond = (ms: number) => Math.ceil((Date.now() + ms) / 1000) * 1000;

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe("the cost counters of a shard whose active replica dies", () => {
  it("count on the standby from the predecessor's last renewal: running pods from then, a pod that ended meanwhile for its part after it", async () => {
    const world = new GitLabWorld();
    world.addGroup("acme");
    const projects = Array.from({ length: 5 }, (_, i) => world.addProject(`acme/service-${i}`));
    const cluster = new KubeWorld();
    for (const node of NODES) {
      const shape = { name: node.name, instanceType: node.instanceType, nodegroup: node.nodegroup, zone: "us-east-1a", createdAt: new Date(Date.now() - 5 * HOUR), allocatable: { cpu: String(node.cpu), memory: `${node.memoryGiB}Gi` } };
      cluster.addNode(node.spot ? buildSpotNode(shape) : buildOnDemandNode(shape));
    }
    const gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
    cleanup.push(() => gitlab.close());
    const kube = await startKubeSimulator({ world: cluster, bookmarkIntervalMs: 200 });
    cleanup.push(() => kube.close());
    const dir = await mkdtemp(path.join(tmpdir(), "cost-handover-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, "kubeconfig"), kube.kubeconfig());
    await writeFile(path.join(dir, "prices.yaml"), `${pricesYaml(TABLE)}\n`);
    const fleet = await startShardFleet(2, {
      TOTAL_SHARDS: "1",
      SHARD_REPLICAS: "2",
      SHARD_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
      GITLAB_URL: gitlab.url,
      GITLAB_TOKEN: TOKEN,
      GITLAB_GROUPS: "acme",
      KUBECONFIG: path.join(dir, "kubeconfig"),
      KUBE_NODE_PRICES_FILE: path.join(dir, "prices.yaml"),
      KUBE_WATCH_STALL_SECONDS: "5",
      KUBE_RETRY_INITIAL_SECONDS: "0.05",
      KUBE_RETRY_MAX_SECONDS: "0.5",
      SHUTDOWN_GRACE_SECONDS: "0",
      LOG_LEVEL: "info",
    });
    cleanup.push(() => fleet.close());
    onTestFailed(() => console.error(fleet.outputs()));
    await Promise.all(fleet.replicas.map((r) => fleet.spawn(r.ordinal)));
    await waitFleetReady(fleet);
    const isActive = async (url: string) => sum(await scrape(url), "gitlab_ci_exporter_active") === 1;
    const old = await eventually(async () => {
      const flags = await Promise.all(fleet.replicas.map(async (r) => [r, await isActive(r.url)] as const));
      const leading = flags.filter(([, on]) => on).map(([r]) => r);
      expect(leading).toHaveLength(1);
      return leading[0]!;
    }, 15_000, 100);
    const standby = fleet.replicas.find((r) => r !== old)!;

    // Job pods of one project each, created while both replicas watch: counted from their binding.
    const pods: PodFacts[] = [];
    const objects = new Map<string, V1Pod>();
    const addPod = (i: number, node: string, boundAtMs: number, endAtMs: number | null = null) => {
      const project = projects[i]!;
      const pod = buildRunnerJobPod({ projectId: project.id, projectPath: project.pathWithNamespace, jobId: 7000 + i, jobName: "build", ref: "main", suffix: `c${i}`, requests: { cpu: ["1", "2", "500m", "1", "3"][i]!, memory: "2Gi" } });
      podCreating(pod, node, new Date(boundAtMs));
      podRunning(pod, new Date(boundAtMs + 2000));
      if (endAtMs !== null) podTerminated(pod, { finishedAt: new Date(endAtMs), exitCode: 0 });
      pods.push({ name: `c${i}`, project: project.pathWithNamespace, ref: "main", jobName: "build", node, ...requestsOf(pod), boundAtMs, endAtMs });
      objects.set(`c${i}`, cluster.addPod(pod));
    };
    const finish = (i: number, atMs: number) => {
      cluster.updatePod("gitlab-runner", objects.get(`c${i}`)!.metadata!.name!, (p) => podTerminated(p, { finishedAt: new Date(atMs), exitCode: 0 }));
      pods[pods.findIndex((p) => p.name === `c${i}`)]!.endAtMs = atMs;
    };
    const T = nextSecond(0) - 1000;
    addPod(0, "spot-a", T - HOUR);
    addPod(1, "od-a", T - 30 * MINUTE);
    addPod(2, "spot-a", T - 20 * MINUTE);
    // Ended an hour ago: nothing of it is the successor's.
    addPod(3, "od-a", T - 2 * HOUR, T - HOUR);
    const cores = async (url: string) => sum(await scrape(url), "gitlab_ci_job_cpu_core_seconds_total");
    await eventually(async () => expect(await cores(old.url)).toBeGreaterThan(3600), 10_000, 100);
    expect(await cores(standby.url)).toBe(0);
    await sleep(1500);

    // The old replica's last scrape, then its death: the Lease still tells its last renewal.
    const lastScrape = await scrape(old.url);
    const lastScrapeAt = Date.now();
    await fleet.kill(old.ordinal);
    const lease = kube.objects.lease("monitoring", "exporter-shard-0")!;
    expect(lease.spec!.holderIdentity).toBe(old.podName);
    const lastRenewal = new Date(lease.spec!.renewTime as unknown as string | Date).getTime();
    // Before the takeover: pod 2 ends, pod 4 starts.
    const endedAt = nextSecond(2000);
    await sleep(endedAt - Date.now());
    finish(2, endedAt);
    addPod(4, "spot-a", endedAt);
    await eventually(async () => expect(await isActive(standby.url)).toBe(true), 3 * LEASE_SECONDS * 1000, 25);
    const tookOverAt = kube.objects.leaseWrites.find((w) => w.name === "exporter-shard-0" && w.holder === standby.podName)!.at;
    expect(endedAt).toBeLessThan(tookOverAt);
    expect(endedAt).toBeGreaterThan(lastRenewal);

    // Some seconds on, every pod ends: the successor's counters stop growing.
    const allEndAt = nextSecond(6000);
    await sleep(allEndAt - Date.now());
    for (const i of [0, 1, 4]) finish(i, allEndAt);
    const truth = costTruth(NODES, pods, TABLE, { fromMs: lastRenewal, toMs: allEndAt + HOUR });
    const counted = await eventually(async () => {
      const samples = await scrape(standby.url);
      expect(costMismatches(costSeriesOf([samples], truth), truth, TOLERANCE)).toEqual([]);
      return samples;
    }, 10_000, 200);
    // Across the handover: the two replicas' counts add up to the whole truth, and to no more than the overlap.
    const whole = costTruth(NODES, pods, TABLE, { toMs: allEndAt + HOUR });
    const overlap = costTruth(NODES, pods, TABLE, { fromMs: lastRenewal, toMs: lastScrapeAt });
    const total = (series: ReturnType<typeof costTruth>) => [...(series.get("gitlab_ci_job_cost_total")?.values() ?? [])].reduce((a, b) => a + b, 0);
    const both = sum(lastScrape, "gitlab_ci_job_cost_total") + sum(counted, "gitlab_ci_job_cost_total");
    expect(Math.abs(both - total(whole))).toBeLessThanOrEqual(total(overlap) + TOLERANCE * total(whole));
    console.log(
      `Cost across a handover: taken over ${tookOverAt - lastRenewal} ms after the last renewal; the successor counted ${sum(counted, "gitlab_ci_job_cost_total").toFixed(6)} USD from it, ` +
        `the truth since then ${total(truth).toFixed(6)}; with the predecessor's last scrape ${both.toFixed(6)} of ${total(whole).toFixed(6)} (the scrape ${lastScrapeAt - lastRenewal} ms after the renewal)`,
    );
  }, 90_000);
});
