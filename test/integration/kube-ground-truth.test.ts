import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addDisruptionTarget,
  buildKubernetesJobPod,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  KubeWorld,
  NODE_TAINTS,
  podFailedBy,
  podRunning,
  podTerminated,
  taintNode,
} from "../../src/simulator/kube/index.js";
import { GitLabWorld } from "../../src/simulator/gitlab/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * The exporter's list/watch informers, over client-node's `CoreV1Api` lists and `Watch` streams,
 * against the simulated Kubernetes API over HTTP: every family compared with what the simulated
 * cluster holds.
 */
const HOUR = 3_600_000;

function info(samples: Sample[], pod: string): Record<string, string> | undefined {
  return samples.find((s) => s.name === "gitlab_ci_job_pod_info" && s.labels.pod === pod)?.labels;
}

function series(samples: Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

describe("job pods, spot nodes and builds against the simulated cluster", () => {
  let env: KubeStack;
  const nodeCreated = new Date(Math.floor(Date.now() / 1000) * 1000 - 5 * HOUR);

  beforeAll(async () => {
    // The requests and limits are checked here too: exported as for a cluster without kube-state-metrics.
    env = await startKubeStack({ KUBE_INTERRUPTION_SETTLE_SECONDS: "0.3", KUBE_EXPORT_POD_RESOURCES: "true" });
  });
  afterAll(() => env?.close());

  const scrape = () => env.stack.scrape();
  const addNode = (node: V1Node) => env.kubeWorld.addNode(node);
  const addPod = (pod: V1Pod) => env.kubeWorld.addPod(pod);

  it("labels a runner-default job pod with project, ref, job name, job id, runner and node, and drops it with the pod", async () => {
    addNode(buildSpotNode({ name: "spot-a", nodegroup: "ci-spot", zone: "us-west-2b", instanceType: "m6i.2xlarge", createdAt: nodeCreated }));
    const pod = buildRunnerJobPod({ projectId: 42, projectPath: "acme/platform/api", jobId: 9001, jobName: "build image", ref: "feature/PLAT-7_retry", nodeName: "spot-a", runnerName: "eks-spot-runner", requests: { cpu: "1500m", memory: "3Gi" }, limits: { memory: "4Gi" } });
    podRunning(pod, new Date());
    addPod(pod);
    const name = pod.metadata!.name!;
    const samples = await eventually(async () => {
      const s = await scrape();
      if (!info(s, name)) throw new Error("not yet");
      return s;
    });
    expect(info(samples, name)).toEqual({ namespace: "gitlab-runner", pod: name, node: "spot-a", project: "acme/platform/api", ref: "feature/PLAT-7_retry", job_name: "build image", job_id: "9001", pipeline_id: "", runner: "eks-spot-runner" });
    expect(sum(samples, "gitlab_ci_job_pod_container_resource_requests", { pod: name, container: "build", resource: "cpu" })).toBe(1.5);
    expect(sum(samples, "gitlab_ci_job_pod_container_resource_requests", { pod: name, container: "build", resource: "memory" })).toBe(3 * 2 ** 30);
    expect(sum(samples, "gitlab_ci_job_pod_container_resource_requests", { pod: name, container: "helper", resource: "cpu" })).toBe(0.1);
    expect(sum(samples, "gitlab_ci_job_pod_container_resource_limits", { pod: name, container: "build", resource: "memory" })).toBe(4 * 2 ** 30);
    expect(series(samples, "gitlab_ci_job_pod_container_resource_limits", { pod: name, container: "helper" })).toEqual([]);

    env.kubeWorld.deletePod("gitlab-runner", name);
    const after = await eventually(async () => {
      const s = await scrape();
      if (info(s, name)) throw new Error("still there");
      return s;
    });
    expect(series(after, "gitlab_ci_job_pod_container_resource_requests", { pod: name })).toEqual([]);
    // A pod that merely finished on a healthy node is no interruption.
    expect(sum(after, "gitlab_ci_job_pods_interrupted_total", { project: "acme/platform/api" })).toBe(0);
  });

  it("counts spot nodes per group and ignores on-demand nodes", async () => {
    addNode(buildSpotNode({ name: "spot-b", nodegroup: "ci-spot", zone: "us-west-2b", instanceType: "m6i.2xlarge", createdAt: nodeCreated }));
    addNode(buildSpotNode({ name: "spot-k", provider: "karpenter", nodegroup: "ci-burst", zone: "us-west-2c", instanceType: "c7i.4xlarge", createdAt: nodeCreated }));
    addNode(buildOnDemandNode({ name: "ondemand-1", zone: "us-west-2a", createdAt: nodeCreated }));
    const samples = await eventually(async () => {
      const s = await scrape();
      if (sum(s, "gitlab_ci_spot_nodes") !== 3) throw new Error("not yet");
      return s;
    });
    expect(sum(samples, "gitlab_ci_spot_nodes", { nodegroup: "ci-spot", zone: "us-west-2b", instance_type: "m6i.2xlarge" })).toBe(2);
    expect(sum(samples, "gitlab_ci_spot_nodes", { nodegroup: "ci-burst", zone: "us-west-2c", instance_type: "c7i.4xlarge" })).toBe(1);
    expect(series(samples, "gitlab_ci_spot_node_created_timestamp_seconds").map((s) => [s.labels.node, s.value]).sort()).toEqual([
      ["spot-a", nodeCreated.getTime() / 1000],
      ["spot-b", nodeCreated.getTime() / 1000],
      ["spot-k", nodeCreated.getTime() / 1000],
    ]);
    expect(series(samples, "gitlab_ci_spot_node_created_timestamp_seconds", { node: "ondemand-1" })).toEqual([]);
  });

  it.each([
    ["autoscaler_scale_down", NODE_TAINTS.autoscalerScaleDown],
    ["spot_interruption", NODE_TAINTS.spotInterruption],
    ["rebalance_recommendation", NODE_TAINTS.rebalanceRecommendation],
    ["karpenter_disruption", NODE_TAINTS.karpenterDisrupted],
    ["node_shutdown", NODE_TAINTS.gceImpendingTermination],
    ["unknown", null],
  ] as const)("observes a spot node's lifetime once, with reason %s, and counts the job pods it took down", async (reason, taint) => {
    const name = `spot-${reason}`;
    const lifetimeSeconds = 2 * 3600 + 17;
    addNode(buildSpotNode({ name, nodegroup: `group-${reason}`, zone: "eu-west-1a", instanceType: "m5.large", createdAt: nodeCreated }));
    const pods = [1, 2].map((i) => {
      const pod = buildRunnerJobPod({ projectId: 7, projectPath: `acme/${reason}`, jobId: 70_000 + i, jobName: "test", ref: "main", nodeName: name, suffix: `${reason.replace(/_/g, "-")}-${i}` });
      podRunning(pod, new Date());
      return addPod(pod);
    });
    await eventually(async () => {
      if (!info(await scrape(), pods[1]!.metadata!.name!)) throw new Error("not yet");
    });
    const deletePods = () => {
      for (const pod of pods) {
        const { namespace, name: podName } = pod.metadata as { namespace: string; name: string };
        // A drain goes through the eviction API, which marks the pods before they go.
        if (taint) env.kubeWorld.updatePod(namespace, podName, (p) => addDisruptionTarget(p, "EvictionByEvictionAPI"));
        env.kubeWorld.deletePod(namespace, podName);
      }
    };
    const deleteNode = () => {
      env.kubeWorld.updateNode(name, (node) => {
        node.metadata!.deletionTimestamp = new Date(nodeCreated.getTime() + lifetimeSeconds * 1000);
      });
      env.kubeWorld.deleteNode(name);
    };
    if (taint) {
      env.kubeWorld.updateNode(name, (node) => taintNode(node, taint));
      deletePods();
      deleteNode();
    } else {
      // Reclaimed without notice: the node object goes first, its pods are garbage-collected after.
      deleteNode();
      deletePods();
    }

    const samples = await eventually(async () => {
      const s = await scrape();
      if (sum(s, "gitlab_ci_spot_node_lifetime_seconds_count", { nodegroup: `group-${reason}` }) < 1 || sum(s, "gitlab_ci_job_pods_interrupted_total", { project: `acme/${reason}` }) < 2) throw new Error("not yet");
      return s;
    });
    expect(sum(samples, "gitlab_ci_spot_node_lifetime_seconds_count", { nodegroup: `group-${reason}`, reason, zone: "eu-west-1a", instance_type: "m5.large" })).toBe(1);
    expect(sum(samples, "gitlab_ci_spot_node_lifetime_seconds_sum", { nodegroup: `group-${reason}` })).toBe(lifetimeSeconds);
    expect(series(samples, "gitlab_ci_job_pods_interrupted_total", { project: `acme/${reason}` }).map((s) => [s.labels.reason, s.labels.nodegroup, s.labels.zone, s.value])).toEqual([[reason, `group-${reason}`, "eu-west-1a", 2]]);
    expect(series(samples, "gitlab_ci_spot_node_created_timestamp_seconds", { node: name })).toEqual([]);
    // Nothing is observed twice, however long we look.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const later = await scrape();
    expect(sum(later, "gitlab_ci_spot_node_lifetime_seconds_count", { nodegroup: `group-${reason}` })).toBe(1);
    expect(sum(later, "gitlab_ci_job_pods_interrupted_total", { project: `acme/${reason}` })).toBe(2);
  });

  it("does not count job pods ending normally on a node whose scale-down was cancelled", async () => {
    addNode(buildSpotNode({ name: "spot-cancelled", nodegroup: "ci-spot", createdAt: nodeCreated }));
    const pods = [1, 2, 3].map((i) => {
      const pod = buildRunnerJobPod({ projectId: 11, projectPath: "acme/cancelled", jobId: 11_000 + i, jobName: "test", ref: "main", nodeName: "spot-cancelled", suffix: `cancelled-${i}` });
      podRunning(pod, new Date());
      return addPod(pod).metadata!.name!;
    });
    await eventually(async () => {
      if (!info(await scrape(), pods[2]!)) throw new Error("not yet");
    });
    // cluster-autoscaler picks the node, then cancels (a pod arrived, a drain failed) and untaints it.
    env.kubeWorld.updateNode("spot-cancelled", (node) => taintNode(node, NODE_TAINTS.autoscalerScaleDown));
    await new Promise((resolve) => setTimeout(resolve, 300));
    env.kubeWorld.updateNode("spot-cancelled", (node) => {
      node.spec!.taints = [];
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The jobs end; gitlab-runner deletes their pods, still Running.
    for (const name of pods) env.kubeWorld.deletePod("gitlab-runner", name);
    await eventually(async () => {
      if (info(await scrape(), pods[2]!)) throw new Error("still there");
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sum(await scrape(), "gitlab_ci_job_pods_interrupted_total", { project: "acme/cancelled" })).toBe(0);
  });

  it("times Kaniko builds in a CI job pod and in a plain Kubernetes Job, by exit code", async () => {
    const started = new Date(Math.floor(Date.now() / 1000) * 1000 - 600_000);
    const ci = buildRunnerJobPod({ projectId: 9, projectPath: "acme/images", jobId: 8100, jobName: "kaniko", ref: "main", nodeName: "spot-b", buildImage: "gcr.io/kaniko-project/executor:v1.23.2-debug", suffix: "kaniko-ci" });
    podRunning(ci, started);
    addPod(ci);
    const job = buildKubernetesJobPod({ namespace: "builds", jobName: "nightly-base-image", image: "ghcr.io/osscontainertools/kaniko:v1.25.0", nodeName: "ondemand-1" });
    podRunning(job, started);
    addPod(job);
    await eventually(async () => {
      if (!info(await scrape(), ci.metadata!.name!)) throw new Error("not yet");
    });
    env.kubeWorld.updatePod("gitlab-runner", ci.metadata!.name!, (pod) => podTerminated(pod, { finishedAt: new Date(started.getTime() + 95_000), exitCode: 0, containers: ["build"] }));
    env.kubeWorld.updatePod("builds", job.metadata!.name!, (pod) => podTerminated(pod, { finishedAt: new Date(started.getTime() + 312_000), exitCode: 1 }));
    const samples = await eventually(async () => {
      const s = await scrape();
      if (sum(s, "gitlab_ci_image_build_duration_seconds_count") < 2) throw new Error("not yet");
      return s;
    });
    expect(series(samples, "gitlab_ci_image_build_duration_seconds_count").map((s) => [s.labels.builder, s.labels.project, s.labels.result, s.value]).sort()).toEqual([
      ["kaniko", "", "failure", 1],
      ["kaniko", "acme/images", "success", 1],
    ]);
    expect(sum(samples, "gitlab_ci_image_build_duration_seconds_sum", { project: "acme/images" })).toBe(95);
    expect(sum(samples, "gitlab_ci_image_build_duration_seconds_sum", { project: "" })).toBe(312);
    // Later changes to the same pods observe nothing again.
    env.kubeWorld.updatePod("gitlab-runner", ci.metadata!.name!, (pod) => {
      pod.status!.phase = "Succeeded";
    });
    env.kubeWorld.updatePod("builds", job.metadata!.name!, (pod) => {
      pod.metadata!.labels = { ...pod.metadata!.labels, seen: "again" };
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(sum(await scrape(), "gitlab_ci_image_build_duration_seconds_count")).toBe(2);
  });
});

describe("a pod left over from an old graceful node shutdown", () => {
  let env: KubeStack;
  beforeAll(async () => {
    const world = new KubeWorld();
    world.addNode(buildSpotNode({ name: "spot-rebooted", nodegroup: "ci-spot", createdAt: new Date(Date.now() - 3 * 86_400_000) }));
    const leftover = buildKubernetesJobPod({ namespace: "monitoring", jobName: "node-probe", image: "busybox:1.37", nodeName: "spot-rebooted" });
    podRunning(leftover, new Date(Date.now() - 2 * 86_400_000 - 600_000));
    podFailedBy(leftover, "Terminated", new Date(Date.now() - 2 * 86_400_000));
    world.addPod(leftover);
    for (const i of [1, 2]) {
      const pod = buildRunnerJobPod({ projectId: 12, projectPath: "acme/rebooted", jobId: 12_000 + i, jobName: "test", ref: "main", nodeName: "spot-rebooted", suffix: `rebooted-${i}` });
      podRunning(pod, new Date());
      world.addPod(pod);
    }
    env = await startKubeStack({ KUBE_INTERRUPTION_SETTLE_SECONDS: "0.3" }, world);
  });
  afterAll(() => env?.close());

  it("does not mark its healthy node, whose job pods then end normally", async () => {
    const names = env.kubeWorld.pods().filter((p) => p.metadata!.namespace === "gitlab-runner").map((p) => p.metadata!.name!);
    await eventually(async () => expect(series(await env.stack.scrape(), "gitlab_ci_job_pod_info")).toHaveLength(2));
    for (const name of names) env.kubeWorld.deletePod("gitlab-runner", name);
    await eventually(async () => expect(series(await env.stack.scrape(), "gitlab_ci_job_pod_info")).toHaveLength(0));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sum(await env.stack.scrape(), "gitlab_ci_job_pods_interrupted_total")).toBe(0);
  });
});

describe("a Kaniko job in a gitlab-runner pod, whose build container never ends on its own", () => {
  let env: KubeStack;
  // The simulated GitLab's clock runs ahead on demand, so the job's run time is exact.
  let ahead = 0;
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com", now: () => Date.now() + ahead });
  beforeAll(async () => {
    env = await startKubeStack({}, new KubeWorld(), { projects: ["acme/images"], world });
  });
  afterAll(() => env?.close());

  const builds = (samples: Sample[]) => series(samples, "gitlab_ci_image_build_duration_seconds_count").map((s) => [s.labels.builder, s.labels.project, s.labels.result, s.value]);

  it("takes the pipeline from GitLab, and times the build by the job's end: once, whatever comes after", async () => {
    const project = world.project("acme/images")!;
    env.kubeWorld.addNode(buildOnDemandNode({ name: "n1" }));
    const runner = { id: 7, description: "eks-spot-runner" };
    const image = (name: string) => world.createJob(project.id, { name, ref: "main", tags: ["kaniko"], status: "pending" });
    const ok = image("build image");
    const broken = image("build broken image");
    const lost = image("build image on a reclaimed node");
    const pods = new Map<number, V1Pod>();
    for (const job of [ok, broken, lost]) {
      world.start(job.id, runner);
      const pod = buildRunnerJobPod({ projectId: project.id, projectPath: "acme/images", jobId: job.id, jobName: job.name, ref: "main", nodeName: "n1", buildImage: "gcr.io/kaniko-project/executor:v1.23.2-debug", suffix: `kaniko-${job.id}` });
      podRunning(pod, new Date());
      env.kubeWorld.addPod(pod);
      pods.set(job.id, pod);
    }

    // Runner annotations name no pipeline; the GitLab side does.
    const pipelines = await eventually(async () => {
      const s = await env.stack.scrape();
      const ids = [ok, broken, lost].map((job) => info(s, pods.get(job.id)!.metadata!.name!)?.pipeline_id);
      if (ids.some((id) => !id)) throw new Error("not yet");
      return ids;
    });
    expect(pipelines).toEqual([ok, broken, lost].map((job) => String(job.pipelineId)));

    ahead += 95_000;
    world.finish(ok.id, "success");
    world.finish(broken.id, "failed", "script_failure");
    world.finish(lost.id, "failed", "runner_system_failure");
    // gitlab-runner then deletes each pod, its build container still running.
    for (const pod of pods.values()) env.kubeWorld.deletePod("gitlab-runner", pod.metadata!.name!);

    const samples = await eventually(async () => {
      const s = await env.stack.scrape();
      if (sum(s, "gitlab_ci_jobs_finished_total", { project: "acme/images" }) < 3 || sum(s, "gitlab_ci_job_pod_info") > 0) throw new Error("not yet");
      return s;
    });
    expect(builds(samples).sort()).toEqual([
      ["kaniko", "acme/images", "failure", 1],
      ["kaniko", "acme/images", "success", 1],
    ]);
    // The job's run time as GitLab reports it, to the simulated clock's millisecond.
    const truth = [ok, broken].reduce((total, job) => total + (world.job(job.id)!.finishedAt! - world.job(job.id)!.startedAt!) / 1000, 0);
    expect(sum(samples, "gitlab_ci_image_build_duration_seconds_sum", { project: "acme/images" })).toBeCloseTo(truth, 2);
    expect(truth).toBeGreaterThanOrEqual(190);

    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(builds(await env.stack.scrape()).sort()).toEqual([
      ["kaniko", "acme/images", "failure", 1],
      ["kaniko", "acme/images", "success", 1],
    ]);
  });
});

describe("a job pod that tells its project by id only", () => {
  let env: KubeStack;
  beforeAll(async () => {
    // The job URL is looked for under a key these pods lack.
    env = await startKubeStack({ KUBE_JOB_URL_KEYS: "ci.example.com/job-url" }, new KubeWorld(), { projects: ["acme/platform/backend-api"] });
  });
  afterAll(() => env?.close());

  it("gets the watched project's path from its project.runner.gitlab.com/id label", async () => {
    const project = env.stack.world.project("acme/platform/backend-api")!;
    env.kubeWorld.addNode(buildOnDemandNode({ name: "n1" }));
    const pod = buildRunnerJobPod({ projectId: project.id, projectPath: "acme/platform/backend-api", jobId: 4100, jobName: "lint", ref: "main", nodeName: "n1", suffix: "by-id" });
    podRunning(pod, new Date());
    env.kubeWorld.addPod(pod);
    const labels = await eventually(async () => info(await env.stack.scrape(), pod.metadata!.name!) ?? Promise.reject(new Error("not yet")));
    expect(labels).toMatchObject({ project: "acme/platform/backend-api", job_id: "4100" });
  });
});

describe("a custom key mapping for pods labelled through pod_annotations or pod_labels", () => {
  let env: KubeStack;
  beforeAll(async () => {
    env = await startKubeStack({
      KUBE_JOB_ID_KEYS: "ci.example.com/job-id",
      KUBE_JOB_URL_KEYS: "ci.example.com/job-url",
      KUBE_JOB_REF_KEYS: "ci.example.com/ref",
      KUBE_JOB_NAME_KEYS: "ci.example.com/job-name",
      KUBE_PIPELINE_ID_KEYS: "ci.example.com/pipeline-id",
      KUBE_RUNNER_NAME_KEYS: "ci.example.com/runner",
    });
  });
  afterAll(() => env?.close());

  it("reads project, ref, job name, job id and pipeline id from the configured keys, annotations or labels", async () => {
    env.kubeWorld.addNode(buildOnDemandNode({ name: "n1" }));
    // A runner older than 17.9, without the job.runner.gitlab.com annotations of current runners.
    const pod = buildRunnerJobPod({ projectId: 5, projectPath: "acme/legacy", jobId: 5100, jobName: "ignored", ref: "ignored", nodeName: "n1", runnerVersion: "17.8", extraLabels: { "ci.example.com/ref": "release-2.4", "ci.example.com/pipeline-id": "777", "ci.example.com/runner": "legacy-runner" } });
    for (const key of Object.keys(pod.metadata!.annotations!)) if (key.startsWith("job.runner.gitlab.com/")) delete pod.metadata!.annotations![key];
    Object.assign(pod.metadata!.annotations!, { "ci.example.com/job-id": "5100", "ci.example.com/job-url": "https://gitlab.example.com/acme/legacy/-/jobs/5100", "ci.example.com/job-name": "unit tests 1/3" });
    podRunning(pod, new Date());
    env.kubeWorld.addPod(pod);
    const labels = await eventually(async () => info(await env.stack.scrape(), pod.metadata!.name!) ?? Promise.reject(new Error("not yet")));
    expect(labels).toEqual({ namespace: "gitlab-runner", pod: pod.metadata!.name!, node: "n1", project: "acme/legacy", ref: "release-2.4", job_name: "unit tests 1/3", job_id: "5100", pipeline_id: "777", runner: "legacy-runner" });
    // With this mapping, a runner-default pod is not taken for a CI job pod.
    const plain = buildRunnerJobPod({ projectId: 6, projectPath: "acme/other", jobId: 6100, jobName: "x", ref: "main", nodeName: "n1", suffix: "plain" });
    podRunning(plain, new Date());
    env.kubeWorld.addPod(plain);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(info(await env.stack.scrape(), plain.metadata!.name!)).toBeUndefined();
  });
});
