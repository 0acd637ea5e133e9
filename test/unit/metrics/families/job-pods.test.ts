import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../../src/domain/pod.js";
import { JOB_POD_FAMILIES } from "../../../../src/metrics/families/job-pods.js";
import { NodeStore } from "../../../../src/state/nodes.js";
import { PodStore } from "../../../../src/state/pods.js";
import { familiesOf } from "../../../helpers/families.js";
import { container, jobPod } from "../../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const live = { nowMs: T0 + 60_000, observeEndedBuilds: true };

function node(name: string, overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0, deletingSinceMs: null, spot: true, instanceType: "m5.large", zone: "z", nodegroup: "ci", evidence: null, readySinceMs: null, ...overrides };
}

function setup(maxPerFamily?: number) {
  const nodes = new NodeStore();
  const pods = new PodStore(nodes);
  return { nodes, pods, ...familiesOf(JOB_POD_FAMILIES, { pods }, maxPerFamily) };
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
    expect(series("gitlab_ci_job_pods_interrupted_total")).toEqual([[{ project: "acme/api", reason: "spot_interruption" }, 1]]);
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
