import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../../src/domain/pod.js";
import { JOB_POD_FAMILIES, JOB_POD_RESOURCE_FAMILIES } from "../../../../src/metrics/families/job-pods.js";
import { NodeStore } from "../../../../src/state/nodes.js";
import { JobPodStarts } from "../../../../src/state/pod-starts.js";
import { PodStore } from "../../../../src/state/pods.js";
import { familiesOf } from "../../../helpers/families.js";
import { container, jobPod, started, waiting } from "../../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const live = { nowMs: T0 + 60_000, observeEndedBuilds: true };

function node(name: string, overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0, deletingSinceMs: null, spot: true, instanceType: "m5.large", zone: "z", nodegroup: "ci", evidence: null, readySinceMs: null, ...overrides };
}

/** The job pod families, and the requests and limits too when `podResources` (KUBE_EXPORT_POD_RESOURCES). */
function setup(maxPerFamily?: number, podResources = true) {
  const nodes = new NodeStore();
  const pods = new PodStore(nodes);
  const starts = new JobPodStarts(pods, nodes);
  const generators = podResources ? [...JOB_POD_FAMILIES, ...JOB_POD_RESOURCE_FAMILIES] : JOB_POD_FAMILIES;
  return { nodes, pods, ...familiesOf(generators, { pods, starts }, maxPerFamily) };
}

describe("job pod families", () => {
  it("render one info series and each container's requests and limits per live job pod, changed in place", () => {
    const { pods, series } = setup();
    pods.upsert(jobPod("p1", { containers: [container("build", { requests: { cpu: 0.5, memory: 2 ** 30 }, limits: { cpu: 2 } }), container("helper", { requests: {}, limits: {} })] }), live);
    expect(series("gitlab_ci_job_pod_info")).toEqual([
      [{ namespace: "gitlab-runner", pod: "p1", node: "n1", project: "acme/api", ref: "main", job_name: "build", job_id: "1", pipeline_id: "", runner: "r" }, 1],
    ]);
    expect(series("gitlab_ci_job_pod_container_resource_requests")).toEqual([
      [{ namespace: "gitlab-runner", pod: "p1", container: "build", resource: "cpu" }, 0.5],
      [{ namespace: "gitlab-runner", pod: "p1", container: "build", resource: "memory" }, 2 ** 30],
    ]);
    expect(series("gitlab_ci_job_pod_container_resource_limits")).toEqual([[{ namespace: "gitlab-runner", pod: "p1", container: "build", resource: "cpu" }, 2]]);
    pods.upsert(jobPod("p1", { nodeName: "n2" }), live);
    expect(series("gitlab_ci_job_pod_info").map(([labels]) => labels.node)).toEqual(["n2"]);
    expect(series("gitlab_ci_job_pod_container_resource_limits")).toHaveLength(2);
  });

  it("render exactly one series per live job pod without the requests and limits (kube-state-metrics has them)", () => {
    const { pods, samples } = setup(undefined, false);
    for (const name of ["p1", "p2", "p3"]) pods.upsert(jobPod(name, { containers: [container("build", { requests: { cpu: 1, memory: 2 ** 30 }, limits: { memory: 2 ** 31 } }), container("helper", { requests: { cpu: 0.1 }, limits: {} })] }), live);
    expect(samples().map((s) => [s.name, s.labels.pod])).toEqual([
      ["gitlab_ci_job_pod_info", "p1"],
      ["gitlab_ci_job_pod_info", "p2"],
      ["gitlab_ci_job_pod_info", "p3"],
    ]);
  });

  it("drop a pod's series with the pod, and have none for pods that are not CI job pods", () => {
    const { pods, samples } = setup();
    pods.upsert(jobPod("p1"), live);
    pods.upsert(jobPod("kaniko-job", { job: null, containers: [container("kaniko", { builder: "kaniko" })] }), live);
    pods.remove(jobPod("p1"), live.nowMs);
    expect(samples()).toEqual([]);
  });

  it("count a pod taken down by its node's removal once, with the node's reason", () => {
    const { nodes, pods, series } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(jobPod("p1"), live);
    nodes.upsert(node("n1", { evidence: "spot_interruption" }), live.nowMs);
    pods.remove(jobPod("p1"), live.nowMs);
    pods.remove(jobPod("p1"), live.nowMs);
    expect(series("gitlab_ci_job_pods_interrupted_total")).toEqual([[{ project: "acme/api", reason: "spot_interruption", nodegroup: "ci", zone: "z" }, 1]]);
  });

  it("count waiting pods by project and reason, with the oldest creation per reason, and drop each pod once it runs or goes", () => {
    const { pods, series } = setup();
    const created = (minute: number) => T0 + minute * 60_000;
    const unschedulable = (name: string, minute: number, project = "acme/api") =>
      jobPod(name, { nodeName: "", phase: "Pending", job: { ...jobPod(name).job!, project }, start: waiting({ createdAtMs: created(minute), unschedulable: true }) });
    pods.upsert(unschedulable("a", 3), live);
    pods.upsert(unschedulable("b", 1), live);
    pods.upsert(unschedulable("c", 2, "acme/web"), live);
    pods.upsert(jobPod("d", { phase: "Pending", start: waiting({ createdAtMs: created(4), waitingReasons: ["ImagePullBackOff"] }) }), live);
    expect(series("gitlab_ci_job_pods_waiting")).toEqual([
      [{ project: "acme/api", reason: "unschedulable" }, 2],
      [{ project: "acme/web", reason: "unschedulable" }, 1],
      [{ project: "acme/api", reason: "image_pull" }, 1],
    ]);
    // In the order of the reasons: unschedulable, scheduling, container_creating, image_pull, other.
    expect(series("gitlab_ci_job_pods_waiting_oldest_timestamp_seconds")).toEqual([
      [{ reason: "unschedulable" }, created(1) / 1000],
      [{ reason: "image_pull" }, created(4) / 1000],
    ]);
    // b lands on a node, a goes, d runs.
    pods.upsert(jobPod("b", { phase: "Pending", start: waiting({ createdAtMs: created(1), waitingReasons: ["ContainerCreating"] }) }), live);
    pods.remove(unschedulable("a", 3), live.nowMs);
    pods.upsert(jobPod("d", { start: started({ createdAtMs: created(4), startupSeconds: 30 }) }), live);
    expect(series("gitlab_ci_job_pods_waiting")).toEqual([
      [{ project: "acme/web", reason: "unschedulable" }, 1],
      [{ project: "acme/api", reason: "container_creating" }, 1],
    ]);
    expect(series("gitlab_ci_job_pods_waiting_oldest_timestamp_seconds")).toEqual([
      [{ reason: "unschedulable" }, created(2) / 1000],
      [{ reason: "container_creating" }, created(1) / 1000],
    ]);
  });

  it("observe each pod's startup and scheduling once, by node group, capacity type and whether its node is newer than the pod", () => {
    const { nodes, pods, series, value } = setup();
    nodes.upsert(node("warm", { createdAtMs: T0 - 3_600_000 }), T0);
    nodes.upsert(node("cold", { createdAtMs: T0 + 60_000, spot: false, nodegroup: "ci-ondemand" }), T0);
    const startedOn = (name: string, nodeName: string, startupSeconds: number, schedulingSeconds: number) =>
      jobPod(name, { nodeName, start: started({ createdAtMs: T0, startupSeconds, schedulingSeconds }) });
    pods.upsert(startedOn("p1", "warm", 4, 1), live);
    pods.upsert(startedOn("p1", "warm", 4, 1), live);
    pods.upsert(startedOn("p2", "warm", 12, 2), live);
    pods.upsert(startedOn("p3", "cold", 140, 95), live);
    expect(series("gitlab_ci_job_pod_startup_duration_seconds_count")).toEqual([
      [{ nodegroup: "ci", capacity_type: "spot", new_node: "false" }, 2],
      [{ nodegroup: "ci-ondemand", capacity_type: "on_demand", new_node: "true" }, 1],
    ]);
    expect(value("gitlab_ci_job_pod_startup_duration_seconds_sum", { new_node: "false" })).toBe(16);
    expect(value("gitlab_ci_job_pod_startup_duration_seconds_bucket", { new_node: "false", le: "5" })).toBe(1);
    expect(value("gitlab_ci_job_pod_startup_duration_seconds_bucket", { new_node: "true", le: "120" })).toBe(0);
    expect(value("gitlab_ci_job_pod_startup_duration_seconds_bucket", { new_node: "true", le: "180" })).toBe(1);
    expect(value("gitlab_ci_job_pod_scheduling_duration_seconds_sum", { new_node: "true" })).toBe(95);
    expect(value("gitlab_ci_job_pod_scheduling_duration_seconds_count", { new_node: "false" })).toBe(2);
  });

  it("refuse pods past the cap and count what each family left out", () => {
    const { pods, series, dropped } = setup(2);
    for (const name of ["a", "b", "c"]) pods.upsert(jobPod(name), live);
    expect(series("gitlab_ci_job_pod_info").map(([labels]) => labels.pod)).toEqual(["a", "b"]);
    // Four requests per pod (cpu and memory of build and helper): no pod's fit. Two limits per pod: the first pod's fit.
    expect(series("gitlab_ci_job_pod_container_resource_requests")).toEqual([]);
    expect(series("gitlab_ci_job_pod_container_resource_limits").map(([labels]) => labels.pod)).toEqual(["a", "a"]);
    expect(dropped().map((s) => [s.labels.family, s.value])).toEqual([
      ["gitlab_ci_job_pod_container_resource_requests", 12],
      ["gitlab_ci_job_pod_container_resource_limits", 4],
      ["gitlab_ci_job_pod_info", 1],
    ]);
  });
});
