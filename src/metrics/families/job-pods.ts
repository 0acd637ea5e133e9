import type { PodSnapshot } from "../../domain/pod.js";
import type { PodStore } from "../../state/pods.js";
import type { Labels } from "../exposition/family.js";
import { counter, objectGauge, type FamilyGenerator } from "../exposition/generator.js";

export interface JobPodState {
  readonly pods: PodStore;
}

type InfoLabel = "namespace" | "pod" | "node" | "project" | "ref" | "job_name" | "job_id" | "pipeline_id" | "runner";
type ResourceLabel = "namespace" | "pod" | "container" | "resource";
const RESOURCES = ["cpu", "memory"] as const;

/**
 * The CI job pod families. Per-pod series are rendered when the pod changes and leave with it;
 * the interruption counter moves when the pod state decides a pod was taken down.
 */
export const JOB_POD_FAMILIES: readonly FamilyGenerator<JobPodState>[] = [
  objectGauge({
    name: "gitlab_ci_job_pod_info",
    help: "Always 1: one series per live CI job pod, with the job it runs (runner: manager.runner.gitlab.com/name; pipeline_id from a configured key, else from the GitLab side).",
    labels: ["namespace", "pod", "node", "project", "ref", "job_name", "job_id", "pipeline_id", "runner"],
    connect: ({ pods }, family) =>
      pods.onJobPodChanged.add(({ previous, next }) => {
        if (next?.job) family.set(next.uid, [[infoLabels(next, next.job), 1]]);
        else if (previous) family.delete(previous.uid);
      }),
  }),
  containerResources("requests", "Resources each container of a live CI job pod requests: cpu in cores, memory in bytes."),
  containerResources("limits", "Resource limits of each container of a live CI job pod: cpu in cores, memory in bytes."),
  counter({
    name: "gitlab_ci_job_pods_interrupted_total",
    help: "CI job pods taken down by their node's removal or by a disruption (drain, eviction, preemption), each counted once.",
    labels: ["project", "reason"],
    connect: ({ pods }, family) => pods.onInterrupted.add(({ project, reason }) => family.inc({ project, reason })),
  }),
];

/** Requests and limits alike: one series per container and resource of each live job pod. */
function containerResources(kind: "requests" | "limits", help: string): FamilyGenerator<JobPodState> {
  return objectGauge({
    name: `gitlab_ci_job_pod_container_resource_${kind}`,
    help,
    labels: ["namespace", "pod", "container", "resource"],
    connect: ({ pods }, family) =>
      pods.onJobPodChanged.add(({ previous, next }) => {
        if (next?.job) family.set(next.uid, resourceSamples(next, kind));
        else if (previous) family.delete(previous.uid);
      }),
  });
}

function infoLabels(pod: PodSnapshot, job: NonNullable<PodSnapshot["job"]>): Labels<InfoLabel> {
  const { namespace, name, nodeName } = pod;
  return { namespace, pod: name, node: nodeName, project: job.project, ref: job.ref, job_name: job.jobName, job_id: job.jobId, pipeline_id: job.pipelineId, runner: job.runner };
}

function* resourceSamples(pod: PodSnapshot, kind: "requests" | "limits"): Iterable<readonly [Labels<ResourceLabel>, number]> {
  for (const container of pod.containers) {
    const amounts = container[kind];
    for (const resource of RESOURCES) {
      const value = amounts[resource];
      if (value !== undefined) yield [{ namespace: pod.namespace, pod: pod.name, container: container.name, resource }, value];
    }
  }
}
