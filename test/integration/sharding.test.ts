/**
 * Three shards of the real exporter process, and one unsharded replica beside them, against one
 * simulated GitLab (3,000 projects) and one simulated cluster (30,000 job pods): what the shards
 * export together, as `sum` reads it, is what the single replica exports and what the worlds
 * hold, family by family, before and after a burst of CI work; and no object's series comes from
 * two shards.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator, type SimJob, type SimProject } from "../../src/simulator/gitlab/index.js";
import {
  addDisruptionTarget,
  buildKubernetesJobPod,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  KubeWorld,
  NODE_TAINTS,
  podCreating,
  podRunning,
  podTerminated,
  podUnschedulable,
  startKubeSimulator,
  taintNode,
  type KubeSimulator,
} from "../../src/simulator/kube/index.js";
import { spawnExporter, waitFor, type ExporterProcess } from "../helpers/exporter-process.js";
import { eventually, parseMetrics, sum, type Sample } from "../helpers/prom.js";
import { combined, differences, exportedTwice, familyTotals, TIMESTAMP_TOLERANCE_SECONDS } from "../helpers/shard-sums.js";
import { startShardFleet, waitFleetReady, type ShardFleet } from "../helpers/shard-fleet.js";
import { durationTruth, finishedTruth, liveTruth, oldestQueuedTruth, startedTruth } from "../helpers/truth.js";

const TOKEN = "glpat-shards-0123456789abcdef";
const PROJECTS = 3000;
const JOB_PODS = 30_000;
const SHARDS = 3;
const HOUR = 3_600_000;
const RUNNERS = [
  { id: 1, description: "k8s-runner-a" },
  { id: 2, description: "k8s-runner-b" },
];

let gitlab: GitLabSimulator;
let kube: KubeSimulator;
let fleet: ShardFleet;
let single: ExporterProcess;
let dir: string;
const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
const cluster = new KubeWorld({ historySize: 50_000 });
let projects: SimProject[] = [];
const nodeNames: string[] = [];

/** Pods of the runner on `node`, of project `project`; one in five tells its project by its job URL alone, as runners before 17.9 do. */
function runnerPod(i: number, project: { id: number; pathWithNamespace: string }, node: string | undefined): V1Pod {
  const pod = buildRunnerJobPod({ projectId: project.id, projectPath: project.pathWithNamespace, jobId: 1_000_000 + i, jobName: `job-${i % 37}`, ref: `branch-${i % 11}`, nodeName: node, suffix: `p${i}`, runnerName: RUNNERS[i % 2]!.description, requests: { cpu: i % 2 ? "500m" : "1", memory: i % 3 ? "1Gi" : "2Gi" }, limits: { memory: "4Gi" } });
  if (i % 5 === 0) {
    delete pod.metadata!.labels!["project.runner.gitlab.com/id"];
    delete pod.metadata!.annotations!["project.runner.gitlab.com/id"];
  }
  return pod;
}

function buildWorlds(): void {
  world.addGroup("fleet");
  projects = Array.from({ length: PROJECTS }, (_, i) => world.addProject(`fleet/team-${i % 30}/service-${i}`));
  projects.forEach((project, i) => {
    if (i % 50 !== 0) return;
    world.createJob(project.id, { name: "queued", tags: i % 20 ? ["docker"] : ["docker", "spot"], status: "pending" });
    const running = world.createJob(project.id, { name: "build", tags: ["k8s"], status: "pending" });
    world.start(running.id, RUNNERS[i % 2]!);
  });
  const created = new Date(Date.now() - 5 * HOUR);
  for (let i = 0; i < 180; i++) {
    const options = { name: i < 120 ? `spot-${i}` : `od-${i}`, zone: ["us-west-2a", "us-west-2b", "us-west-2c"][i % 3]!, instanceType: ["m6i.2xlarge", "c6i.4xlarge"][i % 2]!, nodegroup: i < 120 ? `ci-spot-${i % 4}` : "ci-ondemand", createdAt: created };
    cluster.addNode(i < 120 ? buildSpotNode(options) : buildOnDemandNode(options));
    nodeNames.push(options.name);
  }
  const started = new Date(Date.now() - 10 * 60_000);
  for (let i = 0; i < JOB_PODS; i++) {
    // One pod in a hundred belongs to a project no shard watches: it is placed by its UID.
    const project = i % 100 === 1 ? { id: 900_000 + i, pathWithNamespace: `elsewhere/app-${i}` } : projects[i % PROJECTS]!;
    const pod = runnerPod(i, project, nodeNames[i % nodeNames.length]);
    pod.metadata!.creationTimestamp = new Date(started.getTime() - 30_000);
    podRunning(pod, started);
    cluster.addPod(pod);
  }
  for (let i = 0; i < 150; i++) {
    const pod = runnerPod(JOB_PODS + i, projects[(i * 7) % PROJECTS]!, undefined);
    pod.metadata!.creationTimestamp = new Date(Date.now() - (200 + i) * 1000);
    podUnschedulable(pod, "0/180 nodes are available: 180 Insufficient cpu.", new Date());
    cluster.addPod(pod);
  }
  for (let i = 0; i < 20; i++) {
    const pod = buildKubernetesJobPod({ namespace: "builds", jobName: `image-${i}`, image: "gcr.io/kaniko-project/executor:v1.23.2", nodeName: nodeNames[120 + i]! });
    pod.metadata!.creationTimestamp = new Date(Date.now() - 180_000);
    podRunning(pod, new Date(Date.now() - 120_000));
    cluster.addPod(pod);
  }
}

beforeAll(async () => {
  buildWorlds();
  gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 10_000_000, projectJobsRateLimitPerMinute: false, maxLoggedRequests: 1000 });
  kube = await startKubeSimulator({ world: cluster, bookmarkIntervalMs: 1000 });
  dir = await mkdtemp(path.join(tmpdir(), "sharding-"));
  const kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  const env = {
    GITLAB_URL: gitlab.url,
    GITLAB_TOKEN: TOKEN,
    GITLAB_GROUPS: "fleet",
    GITLAB_POLL_INTERVAL_SECONDS: "2",
    GITLAB_SWEEP_INTERVAL_SECONDS: "4",
    GITLAB_MAX_REQUESTS_PER_SECOND: "150",
    GITLAB_IDLE_REQUESTS_PER_SECOND: "6",
    GITLAB_MAX_CONCURRENT_REQUESTS: "8",
    GITLAB_REQUEST_TIMEOUT_SECONDS: "20",
    KUBECONFIG: kubeconfig,
    KUBE_WATCH_STALL_SECONDS: "30",
    KUBE_INTERRUPTION_SETTLE_SECONDS: "0.3",
    // The containers' requests and limits too, so that their sum over shards is checked.
    KUBE_EXPORT_POD_RESOURCES: "true",
    MAX_SERIES_PER_FAMILY: "500000",
    SHUTDOWN_GRACE_SECONDS: "0",
    LOG_LEVEL: "error",
  };
  fleet = await startShardFleet(SHARDS, { ...env, TOTAL_SHARDS: String(SHARDS) });
  const spawned = Promise.all([0, 1, 2].map((ordinal) => fleet.spawn(ordinal)));
  single = await spawnExporter(env);
  await spawned;
  const spawnedAt = Date.now();
  await Promise.all([waitFleetReady(fleet, 400_000), waitFor(single, "/readyz", 400_000)]);
  console.log(`4 processes ready ${((Date.now() - spawnedAt) / 1000).toFixed(1)} s after their start`);
}, 420_000);

afterAll(async () => {
  await fleet?.close();
  await single?.kill();
  await gitlab?.close();
  await kube?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The per-pod families: most of the bytes, read only when the whole exposition is compared. */
const PER_POD = /^gitlab_ci_job_pod_(info|container_resource_)/;

/** One replica's samples; without `whole`, its per-pod families left out, unparsed. */
async function samplesOf(url: string, whole: boolean): Promise<Sample[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return parseMetrics(whole ? text : text.split("\n").filter((line) => !PER_POD.test(line)).join("\n"));
}

/** The shards together, the single replica, and the shards apart. */
async function views(whole: boolean): Promise<{ shards: Map<string, number>; one: Map<string, number>; apart: Map<number, Sample[]> }> {
  const shards = fleet.replicas.filter((r) => r.process);
  const [apart, alone] = await Promise.all([Promise.all(shards.map(async (r) => [r.ordinal, await samplesOf(r.url, whole)] as const)), samplesOf(single.url, whole)]);
  return { shards: combined(apart.map(([, samples]) => samples)), one: combined([alone]), apart: new Map(apart) };
}

/** The families of one view by their label values, `a|b` keyed as the truth helpers key them. */
function byLabels(view: ReadonlyMap<string, number>, name: string, labels: readonly string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, value] of view) {
    if (!key.startsWith(`${name}{`)) continue;
    const parsed = Object.fromEntries([...key.slice(name.length + 1, -1).matchAll(/(\w+)=("(?:[^"\\]|\\.)*")/g)].map((m) => [m[1], JSON.parse(m[2]!) as string]));
    const k = labels.map((l) => parsed[l] ?? "").join("|");
    result.set(k, (result.get(k) ?? 0) + value);
  }
  return result;
}

const sorted = (map: ReadonlyMap<string, number>) => [...map].sort(([a], [b]) => a.localeCompare(b));

/** What the simulated cluster holds now, as the families count it. */
function clusterTruth() {
  const jobPods = cluster.pods().filter((p) => p.metadata!.namespace === "gitlab-runner");
  const spot = cluster.nodes().filter((n) => n.metadata!.name!.startsWith("spot-"));
  const cores = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q));
  const cpu = jobPods.reduce((total, p) => total + p.spec!.containers.reduce((t, c) => t + cores(String(c.resources?.requests?.cpu ?? "0")), 0), 0);
  return { jobPods: jobPods.length, spotNodes: spot.length, cpu };
}

describe(`${SHARDS} shards at ${PROJECTS} projects and ${JOB_PODS} job pods`, () => {
  it("export together what one replica exports and what the worlds hold, each object's series from one shard", async () => {
    onTestFailed(() => console.error(fleet.outputs()));
    const live = (view: ReadonlyMap<string, number>, whole: boolean) => {
      const truth = clusterTruth();
      expect(sorted(byLabels(view, "gitlab_ci_jobs_pending", ["project", "tags"]))).toEqual(sorted(liveTruth(world, "pending")));
      expect(sorted(byLabels(view, "gitlab_ci_jobs_running", ["project", "tags"]))).toEqual(sorted(liveTruth(world, "running")));
      const oldest = byLabels(view, "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds", ["project", "tags"]);
      const oldestTruth = oldestQueuedTruth(world);
      expect([...oldest.keys()].sort()).toEqual([...oldestTruth.keys()].sort());
      for (const [key, seconds] of oldestTruth) expect(Math.abs(oldest.get(key)! - seconds), key).toBeLessThanOrEqual(TIMESTAMP_TOLERANCE_SECONDS);
      expect([...byLabels(view, "gitlab_ci_spot_nodes", []).values()].reduce((a, b) => a + b, 0)).toBe(truth.spotNodes);
      if (!whole) return;
      expect(sum([...view].map(([name, value]) => ({ name: name.slice(0, name.indexOf("{")), labels: {}, value })), "gitlab_ci_job_pod_info")).toBe(truth.jobPods);
      expect(byLabels(view, "gitlab_ci_job_pod_container_resource_requests", ["resource"]).get("cpu")).toBeCloseTo(truth.cpu, 6);
    };
    /** Cheap checks until they pass, then the whole expositions compared, until they agree. */
    const converge = async (check: (view: ReadonlyMap<string, number>, whole: boolean) => void) => {
      await eventually(async () => {
        const v = await views(false);
        check(v.shards, false);
        check(v.one, false);
      }, 150_000, 3000);
      return eventually(async () => {
        const v = await views(true);
        check(v.shards, true);
        check(v.one, true);
        expect(differences(v.shards, v.one)).toEqual([]);
        return v;
      }, 60_000, 5000);
    };

    // Synced: the live picture, whole.
    const syncStart = Date.now();
    const before = await converge(live);
    console.log(`live picture whole on every replica ${((Date.now() - syncStart) / 1000).toFixed(1)} s after readiness`);
    const podsPerShard = [...before.apart.values()].map((samples) => sum(samples, "gitlab_ci_job_pod_info"));
    const projectsPerShard = [...before.apart.values()].map((samples) => sum(samples, "gitlab_ci_exporter_gitlab_projects"));
    expect(projectsPerShard.reduce((a, b) => a + b)).toBe(PROJECTS);
    for (const count of podsPerShard) expect(count).toBeGreaterThan(JOB_PODS / SHARDS / 2);
    expect(exportedTwice(before.apart)).toEqual([]);

    // A burst of CI work: jobs end and start, two spot nodes are reclaimed with their pods, pods
    // start and builds end.
    const eventsAt = Date.now();
    const reasons = ["script_failure", "runner_system_failure", "stuck_or_timeout_failure"];
    world.jobs().filter((job: SimJob) => job.status === "running").forEach((job, i) => {
      if (i % 4 === 0) world.finish(job.id, "failed", reasons[i % reasons.length]);
      else if (i % 9 === 0) world.finish(job.id, "canceled");
      else world.finish(job.id, "success");
    });
    world.jobs().filter((job) => job.status === "pending").forEach((job, i) => world.start(job.id, RUNNERS[i % 2]!));
    const interrupted = new Map<string, number>();
    for (const node of ["spot-0", "spot-1"]) {
      cluster.updateNode(node, (n) => taintNode(n, NODE_TAINTS.spotInterruption));
      for (const pod of cluster.pods().filter((p) => p.spec?.nodeName === node)) {
        const { namespace, name } = pod.metadata as { namespace: string; name: string };
        const project = new URL(pod.metadata!.annotations!["job.runner.gitlab.com/url"]!).pathname.split("/-/")[0]!.slice(1);
        interrupted.set(`${project}|spot_interruption`, (interrupted.get(`${project}|spot_interruption`) ?? 0) + 1);
        cluster.updatePod(namespace, name, (p) => addDisruptionTarget(p, "EvictionByEvictionAPI"));
        cluster.deletePod(namespace, name);
      }
      cluster.updateNode(node, (n) => {
        n.metadata!.deletionTimestamp = new Date();
      });
      cluster.deleteNode(node);
    }
    for (let i = 0; i < 100; i++) {
      const pod = runnerPod(JOB_PODS + 1000 + i, projects[(i * 13) % PROJECTS]!, undefined);
      pod.metadata!.creationTimestamp = new Date(eventsAt - 40_000 - i * 100);
      const added = cluster.addPod(pod);
      cluster.updatePod("gitlab-runner", added.metadata!.name!, (p) => podCreating(p, nodeNames[2 + (i % 100)]!, new Date(eventsAt - 30_000)));
      cluster.updatePod("gitlab-runner", added.metadata!.name!, (p) => podRunning(p, new Date(eventsAt - 20_000 + i * 10)));
    }
    for (const pod of cluster.pods().filter((p) => p.metadata!.namespace === "builds")) {
      const exitCode = pod.metadata!.name!.length % 2;
      cluster.updatePod("builds", pod.metadata!.name!, (p) => podTerminated(p, { finishedAt: new Date(eventsAt), exitCode }));
    }

    const burstAt = Date.now();
    const after = await converge((view, whole) => {
      live(view, whole);
      {
        expect(sorted(byLabels(view, "gitlab_ci_jobs_finished_total", ["project", "status", "failure_reason", "runner"]))).toEqual(sorted(finishedTruth(world, eventsAt)));
        expect(sorted(byLabels(view, "gitlab_ci_job_queued_duration_seconds_count", ["project"]))).toEqual(sorted(startedTruth(world, eventsAt)));
        expect(sorted(byLabels(view, "gitlab_ci_job_duration_seconds_count", ["project", "status"]))).toEqual(sorted(durationTruth(world, eventsAt)));
        expect(sorted(byLabels(view, "gitlab_ci_job_pods_interrupted_total", ["project", "reason"]))).toEqual(sorted(interrupted));
        expect(byLabels(view, "gitlab_ci_spot_node_lifetime_seconds_count", ["reason"]).get("spot_interruption")).toBe(2);
        expect([...byLabels(view, "gitlab_ci_job_pod_startup_duration_seconds_count", []).values()][0]).toBe(100);
        expect([...byLabels(view, "gitlab_ci_image_build_duration_seconds_count", []).values()][0]).toBe(20);
        expect([...byLabels(view, "gitlab_ci_job_pods_waiting", []).values()][0]).toBe(150);
      }
    });
    expect(exportedTwice(after.apart)).toEqual([]);
    console.log(`the burst's counts whole on every replica ${((Date.now() - burstAt) / 1000).toFixed(1)} s after it`);
    const totals = familyTotals(after.shards);
    console.log(
      `${SHARDS} shards at ${PROJECTS} projects and ${JOB_PODS} job pods: ${after.shards.size} series together, equal to the single replica's ${after.one.size}; ` +
        `projects per shard ${projectsPerShard.join("/")}, job pods per shard ${podsPerShard.join("/")}; ` +
        `finished ${totals.gitlab_ci_jobs_finished_total}, interrupted ${totals.gitlab_ci_job_pods_interrupted_total}, startups ${totals.gitlab_ci_job_pod_startup_duration_seconds_count}, builds ${totals.gitlab_ci_image_build_duration_seconds_count}; ` +
        `${Object.keys(totals).length} families compared`,
    );
  }, 600_000);
});
