/**
 * Two shards of two replicas each: a Lease per shard elects the replica that polls and exports,
 * the other stands by with its watches warm. The active replica of shard 0 is killed (SIGKILL,
 * as a node lost): the standby takes over within the Lease duration of the last renewal, and the
 * jobs that finish and the pods interrupted while nobody was active are counted once.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { shardOfProject } from "../../src/domain/shard.js";
import { GitLabWorld, startGitLabSimulator, WebhookSender, type SimProject } from "../../src/simulator/gitlab/index.js";
import { addDisruptionTarget, buildRunnerJobPod, buildSpotNode, KubeWorld, NODE_TAINTS, podRunning, startKubeSimulator, taintNode, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { CiTraffic } from "../helpers/ci-traffic.js";
import { eventually, scrape, sum } from "../helpers/prom.js";
import { startFleetBehindService, startShardFleet, type ShardFleet } from "../helpers/shard-fleet.js";

const TOKEN = "glpat-handover-0123456789";
const WEBHOOK_SECRET = "handover-secret";
const SHARDS = 2;
const PER_SHARD = 2;
const LEASE_SECONDS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function start(world: GitLabWorld, cluster: KubeWorld): Promise<{ fleet: ShardFleet; kube: KubeSimulator; serviceUrl: string }> {
  const gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
  cleanup.push(() => gitlab.close());
  const kube = await startKubeSimulator({ world: cluster, bookmarkIntervalMs: 200 });
  cleanup.push(() => kube.close());
  const dir = await mkdtemp(path.join(tmpdir(), "handover-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  const fleet = await startShardFleet(SHARDS * PER_SHARD, {
    TOTAL_SHARDS: String(SHARDS),
    SHARD_REPLICAS: String(PER_SHARD),
    SHARD_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
    GITLAB_URL: gitlab.url,
    GITLAB_TOKEN: TOKEN,
    GITLAB_GROUPS: "acme",
    GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    GITLAB_POLL_INTERVAL_SECONDS: "0.5",
    GITLAB_SWEEP_INTERVAL_SECONDS: "1",
    GITLAB_MAX_REQUESTS_PER_SECOND: "80",
    GITLAB_IDLE_REQUESTS_PER_SECOND: "8",
    KUBECONFIG: kubeconfig,
    KUBE_WATCH_STALL_SECONDS: "5",
    KUBE_RETRY_INITIAL_SECONDS: "0.05",
    KUBE_RETRY_MAX_SECONDS: "0.5",
    KUBE_INTERRUPTION_SETTLE_SECONDS: "0.2",
    SHUTDOWN_GRACE_SECONDS: "0",
    LOG_LEVEL: "info",
  });
  const service = await startFleetBehindService(fleet, cleanup);
  return { fleet, kube, serviceUrl: service.url };
}

const active = async (url: string) => sum(await scrape(url), "gitlab_ci_exporter_active") === 1;

describe("a shard whose active replica dies", () => {
  it("is taken over by its standby within the Lease duration, which counts every job finished and pod interrupted meanwhile once", async () => {
    const world = new GitLabWorld();
    world.addGroup("acme");
    const projects = Array.from({ length: 8 }, (_, i) => world.addProject(`acme/service-${i}`));
    const ofShard = (shard: number) => projects.filter((p) => shardOfProject(p.id, SHARDS) === shard);
    expect(ofShard(0).length).toBeGreaterThan(0);
    expect(ofShard(1).length).toBeGreaterThan(0);
    const cluster = new KubeWorld();
    cluster.addNode(buildSpotNode({ name: "spot-a", nodegroup: "ci-spot", createdAt: new Date(Date.now() - 3_600_000) }));
    const { fleet, kube, serviceUrl } = await start(world, cluster);

    // The active replica of each shard holds its Lease; the other stands by.
    const replicasOf = (shard: number) => fleet.replicas.filter((r) => Math.floor(r.ordinal / PER_SHARD) === shard);
    const activeOf = async (shard: number) => {
      const flags = await Promise.all(replicasOf(shard).filter((r) => r.process).map(async (r) => [r, await active(r.url)] as const));
      const leading = flags.filter(([, on]) => on).map(([r]) => r);
      expect(leading).toHaveLength(1);
      return leading[0]!;
    };
    const old = await eventually(() => activeOf(0), 10_000, 100);
    await eventually(() => activeOf(1), 10_000, 100);
    const standby = replicasOf(0).find((r) => r !== old)!;
    expect(kube.objects.lease("monitoring", "exporter-shard-0")!.spec!.holderIdentity).toBe(old.podName);

    const sender = new WebhookSender(world, { concurrency: 8 });
    sender.addHook({ url: `${serviceUrl}/webhooks/gitlab`, token: WEBHOOK_SECRET, events: { job: true, pipeline: true } });
    const traffic = new CiTraffic(world, projects.map((p) => p.id), { everyMs: 200 });
    traffic.start();
    await sleep(4000);

    // Nothing finishes around the kill: the old replica's count at its death is what it counted.
    const finishedIn = (shard: number, fromMs = 0, toMs = Infinity) =>
      world.jobs().filter((job) => job.finishedAt !== null && job.finishedAt >= fromMs && job.finishedAt < toMs && shardOfProject(job.projectId, SHARDS) === shard).length;
    const finishedTotal = async (url: string) => sum(await scrape(url), "gitlab_ci_jobs_finished_total");
    traffic.hold();
    const oldCounted = await eventually(async () => {
      const counted = await finishedTotal(old.url);
      expect(counted).toBe(finishedIn(0));
      return counted;
    }, 10_000, 100);
    expect(await finishedTotal(standby.url)).toBe(0);
    const jobPods = ofShard(0).slice(0, 3).map((project: SimProject, i) => {
      const pod = buildRunnerJobPod({ projectId: project.id, projectPath: project.pathWithNamespace, jobId: 90_000 + i, jobName: "test", ref: "main", nodeName: "spot-a", suffix: `victim-${i}` });
      pod.metadata!.creationTimestamp = new Date(Date.now() - 60_000);
      podRunning(pod, new Date(Date.now() - 30_000));
      return cluster.addPod(pod);
    });
    await eventually(async () => expect(sum(await scrape(old.url), "gitlab_ci_job_pod_info")).toBe(jobPods.length), 5000, 100);
    // A job that finished between the active replica's last renewal and its death is counted by
    // both (README, "Scaling out"): the kill comes after a renewal that follows the last finish.
    const quietSince = Date.now();
    await eventually(() => expect(kube.objects.leaseWrites.some((w) => w.name === "exporter-shard-0" && w.holder === old.podName && w.at > quietSince)).toBe(true), 5000, 20);

    const killedAt = Date.now();
    await fleet.kill(old.ordinal);
    const lastRenewal = Math.max(...kube.objects.leaseWrites.filter((w) => w.name === "exporter-shard-0" && w.holder === old.podName).map((w) => w.at));
    // While shard 0 has no active replica: jobs finish, and its spot node is reclaimed with the job pods on it.
    traffic.release();
    cluster.updateNode("spot-a", (node) => taintNode(node, NODE_TAINTS.spotInterruption));
    for (const pod of jobPods) {
      cluster.updatePod("gitlab-runner", pod.metadata!.name!, (p) => addDisruptionTarget(p, "EvictionByEvictionAPI"));
      cluster.deletePod("gitlab-runner", pod.metadata!.name!);
    }
    await eventually(async () => expect(await active(standby.url)).toBe(true), 3 * LEASE_SECONDS * 1000, 25);
    const tookOverAt = kube.objects.leaseWrites.find((w) => w.name === "exporter-shard-0" && w.holder === standby.podName)!.at;
    expect(tookOverAt - lastRenewal).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 250);
    const finishedWhileNobody = finishedIn(0, killedAt, tookOverAt);
    expect(finishedWhileNobody).toBeGreaterThan(0);

    await sleep(3000);
    traffic.finishAll();
    await sender.flush();
    sender.detach();
    // Shard 0: the old replica's count at its death and the new one's add up to every finish, once.
    const newCounted = await eventually(async () => {
      const counted = await finishedTotal(standby.url);
      expect(oldCounted + counted).toBe(finishedIn(0));
      return counted;
    }, 20_000, 200);
    const shard1 = await activeOf(1);
    await eventually(async () => expect(await finishedTotal(shard1.url)).toBe(finishedIn(1)), 20_000, 200);
    const interrupted = sum(await scrape(standby.url), "gitlab_ci_job_pods_interrupted_total", { reason: "spot_interruption" });
    expect(interrupted).toBe(jobPods.length);
    console.log(
      `Handover: shard 0's Lease taken over ${tookOverAt - killedAt} ms after its active replica was killed, ${tookOverAt - lastRenewal} ms after its last renewal (duration ${LEASE_SECONDS} s); ` +
        `${finishedIn(0)} jobs of shard 0 finished: ${oldCounted} counted by the killed replica, ${newCounted} by its successor (${finishedWhileNobody} finished before the takeover), ` +
        `${interrupted} of ${jobPods.length} job pods interrupted meanwhile counted; webhook deliveries ${sender.stats.sent}, answers ${JSON.stringify(Object.fromEntries(sender.stats.statuses))}`,
    );
  }, 120_000);
});
