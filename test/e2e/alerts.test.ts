import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateMixin, mixinFiles } from "../../mixin/render.js";
import { GitLabWorld, type SimRunner } from "../../src/simulator/gitlab/index.js";
import {
  addDisruptionTarget,
  buildRunnerJobPod,
  buildSpotNode,
  ClusterCapacity,
  KubeWorld,
  NODE_TAINTS,
  nodePool,
  podRunning,
  RealTimeline,
  startKubeSimulator,
  taintNode,
  type KubeSimulator,
} from "../../src/simulator/kube/index.js";
import { eventually } from "../helpers/prom.js";
import { query, startAlertmanager, startPrometheus, type Daemon } from "../helpers/prometheus.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";

/**
 * The whole chain on loopback: the exporter on the simulated GitLab and cluster, a real Prometheus
 * loading the rules rendered from mixin/ (thresholds and durations shortened through _config, as a
 * user would override them), a real Alertmanager, and a webhook receiver standing in for the pager.
 */
const OVERRIDES = {
  pendingJobsThreshold: 5,
  pendingJobsFor: "5s",
  systemFailureRatioThreshold: 0.1,
  systemFailureFor: "3s",
  systemFailureMinJobs: 5,
  failureRatioWindow: "30s",
  interruptedJobsThreshold: 3,
  interruptedJobsWindow: "1m",
  jobPodsWaitingThreshold: 3,
  jobPodsWaitingFor: "5s",
  cadvisorRateWindow: "10s",
};
const RUNNER: SimRunner = { id: 7, description: "eks-spot-runner" };
/** Cores each container of a running job pod uses, as the fake cAdvisor reports them. */
const CPU_CORES: Record<string, number> = { build: 0.5, helper: 0.1 };

interface ReceivedAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

let stack: Stack;
let kube: KubeSimulator;
let prometheus: Daemon;
let alertmanager: Daemon;
let receiver: Server;
let cadvisor: Server;
let kubeconfigDir: string;
let trickle: NodeJS.Timeout;
const received: ReceivedAlert[] = [];
const kubeWorld = new KubeWorld();
// The cluster's scheduler, autoscaler and registry, minutes pressed into fractions of a second.
const timeline = new RealTimeline();
const capacity = new ClusterCapacity({
  kube: kubeWorld,
  timeline,
  pools: [nodePool({ name: "ci-spot-e2e", capacityType: "spot", podsPerNode: 4 })],
  timing: { scheduleMs: 100, provisionMs: 700, nodeReadyMs: 500, warmStartMs: 200, coldPullMs: 400, pullRetryMs: 300 },
});
const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
world.addGroup("acme");
const api = world.addProject("acme/api");
const web = world.addProject("acme/web");

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

/** cAdvisor's exposition for the running pods of the simulated cluster: CPU counters grow with wall time. */
function cadvisorMetrics(): string {
  const lines = ["# TYPE container_cpu_usage_seconds_total counter", "# TYPE container_memory_working_set_bytes gauge"];
  for (const pod of kubeWorld.pods()) {
    if (pod.status?.phase !== "Running") continue;
    const started = new Date(pod.status.startTime!).getTime();
    for (const container of pod.spec!.containers) {
      const labels = `namespace="${pod.metadata!.namespace}",pod="${pod.metadata!.name}",container="${container.name}",id="/kubepods/${pod.metadata!.uid}/${container.name}"`;
      const seconds = ((Date.now() - started) / 1000) * (CPU_CORES[container.name] ?? 0.05);
      lines.push(`container_cpu_usage_seconds_total{${labels}} ${seconds}`);
      lines.push(`container_memory_working_set_bytes{${labels}} ${container.name === "build" ? 2 ** 30 : 2 ** 27}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function firing(alertname: string): ReceivedAlert | undefined {
  return received.find((a) => a.labels.alertname === alertname && a.status === "firing");
}

function resolved(alertname: string): ReceivedAlert | undefined {
  return received.find((a) => a.labels.alertname === alertname && a.status === "resolved");
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      received.push(...(JSON.parse(body) as { alerts: ReceivedAlert[] }).alerts);
      response.end();
    });
  });
  cadvisor = createServer((_request, response) => response.end(cadvisorMetrics()));
  const [receiverUrl, cadvisorUrl] = await Promise.all([listen(receiver), listen(cadvisor)]);

  kube = await startKubeSimulator({ world: kubeWorld });
  kubeconfigDir = await mkdtemp(path.join(tmpdir(), "e2e-kube-"));
  const kubeconfig = path.join(kubeconfigDir, "kubeconfig");
  await writeFile(kubeconfig, kube.kubeconfig());
  stack = await startStack({ world, kubeconfig, env: { GITLAB_GROUPS: "acme" } });
  await waitReady(stack);

  const rules = new Map([...mixinFiles(await evaluateMixin(OVERRIDES))].filter(([name]) => name.startsWith("rules/")));
  alertmanager = await startAlertmanager(`${receiverUrl}/alerts`);
  prometheus = await startPrometheus({
    ruleFiles: rules,
    alertmanagerUrl: alertmanager.url,
    targets: [
      { job: "gitlab-ci-k8s-exporter", url: `${stack.exporter.url}/metrics` },
      { job: "kubelet", url: `${cadvisorUrl}/metrics/cadvisor`, labels: { metrics_path: "/metrics/cadvisor" } },
    ],
  });

  // A steady trickle of successful jobs, so failure ratios have a denominator.
  trickle = setInterval(() => {
    const job = world.createJob(web.id, { name: "unit", status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, "success");
  }, 400);
}, 60_000);

afterAll(async () => {
  clearInterval(trickle);
  timeline.dispose();
  capacity.dispose();
  await Promise.allSettled([prometheus?.stop(), alertmanager?.stop()]);
  await stack?.close();
  await kube?.close();
  await Promise.allSettled([new Promise((r) => receiver?.close(r)), new Promise((r) => cadvisor?.close(r))]);
  if (kubeconfigDir) await rm(kubeconfigDir, { recursive: true, force: true });
});

describe("alerts end to end: exporter, Prometheus, Alertmanager", () => {
  it("loads the rendered rules without error", async () => {
    const response = await fetch(`${prometheus.url}/api/v1/rules`);
    const body = (await response.json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const groups = body.data.groups.map((g) => g.name).sort();
    expect(groups).toEqual(["gitlab-ci-cost.rules", "gitlab-ci-exporter.alerts", "gitlab-ci-job-resources.rules", "gitlab-ci-jobs.rules", "gitlab-ci.alerts"]);
    await eventually(async () => {
      const again = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as typeof body;
      const unhealthy = again.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== "ok");
      expect(unhealthy).toEqual([]);
    }, 15_000, 250);
  });

  it("stuck queue: pages with GitLabCIPendingJobsHigh once jobs stay pending past the threshold", async () => {
    // Jobs whose tag set no runner serves stay pending; only more than 5 of them for 5s pages.
    for (let i = 0; i < 8; i++) world.createJob(api.id, { name: `deploy-${i}`, tags: ["docker", "arm64"], status: "pending" });
    const alert = await eventually(() => firing("GitLabCIPendingJobsHigh") ?? Promise.reject(new Error("not yet")), 45_000, 200);
    expect(alert.labels).toMatchObject({ severity: "critical", job: "gitlab-ci-k8s-exporter" });
    expect(alert.annotations.description).toBe("The number of pending jobs in gitlab-ci-k8s-exporter has stayed above 5 for 5s; it is 8 now: runners or the nodes they need are missing.");
    expect(alert.annotations.runbook_url).toMatch(/runbooks\.md#gitlabcipendingjobshigh$/);
  }, 60_000);

  it("joins cAdvisor CPU with the job pods, and a spot reclaim storm pages with GitLabCISystemFailureRatioHigh", async () => {
    const nodes = ["ip-10-0-1-11", "ip-10-0-1-12", "ip-10-0-1-13"];
    const running: Array<{ jobId: number; node: string; pod: V1Pod }> = [];
    for (const name of nodes) {
      kubeWorld.addNode(buildSpotNode({ name, nodegroup: "ci-spot", zone: "us-west-2b", instanceType: "m6i.2xlarge" }));
      for (let i = 0; i < 4; i++) {
        const job = world.createJob(api.id, { name: `build-${name}-${i}`, ref: "feature/spot", tags: ["docker"], status: "pending" });
        world.start(job.id, RUNNER);
        const pod = buildRunnerJobPod({ projectId: api.id, projectPath: "acme/api", gitlabUrl: "https://gitlab.example.com", jobId: job.id, jobName: job.name, ref: "feature/spot", nodeName: name, namespace: "gitlab-runner" });
        podRunning(pod, new Date());
        running.push({ jobId: job.id, node: name, pod: kubeWorld.addPod(pod) });
      }
    }

    // The CPU join: every running job container carries project, ref and job name, at the cores it uses.
    const joined = await eventually(async () => {
      const result = await query(prometheus, 'namespace_pod_container:container_cpu_usage_seconds_total:sum_irate{container="build"}');
      if (result.length < running.length) throw new Error(`${result.length} joined series`);
      return result;
    }, 30_000, 250);
    for (const { metric, value } of joined) {
      const entry = running.find((r) => r.pod.metadata!.name === metric.pod)!;
      expect(metric).toMatchObject({ project: "acme/api", ref: "feature/spot", job_name: world.job(entry.jobId)!.name, job_id: String(entry.jobId), node: entry.node, namespace: "gitlab-runner" });
      expect(Number(value[1])).toBeGreaterThan(0.4);
      expect(Number(value[1])).toBeLessThan(0.6);
    }
    const perJob = await query(prometheus, 'project_ref_job_name:container_cpu_usage_seconds_total:sum_irate{project="acme/api", ref="feature/spot"}');
    expect(perJob).toHaveLength(running.length);

    // The storm: node after node gets the spot interruption notice, its job pods are evicted and
    // deleted, and GitLab fails their jobs as runner system failures.
    for (const name of nodes) {
      kubeWorld.updateNode(name, (node) => taintNode(node, NODE_TAINTS.spotInterruption));
      for (const entry of running.filter((r) => r.node === name)) {
        const { namespace, name: podName } = entry.pod.metadata! as { namespace: string; name: string };
        kubeWorld.updatePod(namespace, podName, (pod) => addDisruptionTarget(pod, "EvictionByEvictionAPI"));
        kubeWorld.deletePod(namespace, podName);
        world.finish(entry.jobId, "failed", "runner_system_failure");
      }
      kubeWorld.deleteNode(name);
      await new Promise((resolve) => setTimeout(resolve, 2500));
    }

    const alert = await eventually(() => firing("GitLabCISystemFailureRatioHigh") ?? Promise.reject(new Error("not yet")), 45_000, 200);
    expect(alert.labels).toMatchObject({ severity: "critical", job: "gitlab-ci-k8s-exporter" });
    expect(alert.annotations.description).toMatch(/^\d+(\.\d+)?% of the jobs finished over the last 30s in gitlab-ci-k8s-exporter failed with a system failure reason \(threshold 10%\)\.$/);

    // The informational alert links the storm to the failures; the pods carry the node's reason.
    const spot = await eventually(() => firing("GitLabCISpotInterruptionsTakingJobs") ?? Promise.reject(new Error("not yet")), 30_000, 200);
    expect(spot.labels).toMatchObject({ severity: "info", job: "gitlab-ci-k8s-exporter" });
    const byReason = await query(prometheus, "sum by (reason) (gitlab_ci_job_pods_interrupted_total)");
    expect(byReason.map((r) => r.metric.reason)).toEqual(["spot_interruption"]);
    const interrupted = await query(prometheus, "sum(gitlab_ci_job_pods_interrupted_total)");
    expect(Number(interrupted[0]!.value[1])).toBe(running.length);
    const lifetimes = await query(prometheus, 'sum(gitlab_ci_spot_node_lifetime_seconds_count{reason="spot_interruption"})');
    expect(Number(lifetimes[0]!.value[1])).toBe(nodes.length);
  }, 120_000);

  it("capacity withheld: GitLabCIJobPodsCannotGetNodes pages while no node comes, and resolves when nodes come", async () => {
    // Runners picked five jobs (GitLab: running) and created their pods; the spot group gets no node.
    capacity.withhold("ci-spot-e2e");
    const jobs = Array.from({ length: 5 }, (_, i) => world.createJob(api.id, { name: `integration-${i}`, tags: ["docker", "spot"], status: "pending" }));
    for (const job of jobs) {
      world.start(job.id, RUNNER);
      capacity.launch({ projectId: api.id, projectPath: "acme/api", gitlabUrl: "https://gitlab.example.com", jobId: job.id, jobName: job.name, ref: "main", runnerName: RUNNER.description }, { pool: "ci-spot-e2e" });
    }
    const alert = await eventually(() => firing("GitLabCIJobPodsCannotGetNodes") ?? Promise.reject(new Error("not yet")), 45_000, 200);
    expect(alert.labels).toMatchObject({ severity: "critical", job: "gitlab-ci-k8s-exporter" });
    expect(alert.annotations.description).toMatch(
      /^5 CI job pods in gitlab-ci-k8s-exporter have stayed unschedulable or container_creating for 5s \(threshold 3\); the longest has waited \d+(\.\d+)?s\. All waiting pods by reason: 5 unschedulable\. GitLab counts their jobs as running/,
    );
    expect(capacity.waiting().map((w) => w.reason)).toEqual(Array(5).fill("unschedulable"));
    // What the page is about: GitLab sees the jobs running.
    const running = await query(prometheus, 'sum(gitlab_ci_jobs_running{project="acme/api"})');
    expect(Number(running[0]!.value[1])).toBeGreaterThanOrEqual(5);

    // The capacity comes: two nodes, Ready, the pods pull their images and run; the page resolves.
    capacity.restore("ci-spot-e2e");
    await eventually(() => expect(capacity.waiting()).toEqual([]), 10_000, 100);
    await eventually(() => resolved("GitLabCIJobPodsCannotGetNodes") ?? Promise.reject(new Error("not resolved yet")), 45_000, 200);
    expect(await query(prometheus, 'ALERTS{alertname="GitLabCIJobPodsCannotGetNodes"}')).toEqual([]);
    // Each pod's start observed once, on a node created after it.
    const starts = await query(prometheus, 'sum by (nodegroup, capacity_type, new_node) (gitlab_ci_job_pod_startup_duration_seconds_count{nodegroup="ci-spot-e2e"})');
    expect(starts.map((s) => [s.metric, Number(s.value[1])])).toEqual([[{ nodegroup: "ci-spot-e2e", capacity_type: "spot", new_node: "true" }, 5]]);
  }, 120_000);

  it("never paged for what did not happen", () => {
    const names = new Set(received.map((a) => a.labels.alertname));
    for (const quiet of ["GitLabCIExporterDown", "GitLabCIExporterAbsent", "GitLabCIExporterGitLabSyncStale", "GitLabCIExporterKubernetesWatchStale", "GitLabCIExporterGitLabErrors", "GitLabCIExporterGitLabRateLimited", "GitLabCIExporterSeriesDropped"]) {
      expect(names.has(quiet), quiet).toBe(false);
    }
  });
});
