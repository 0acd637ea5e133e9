import { WAITING_REASONS, type JobPodStartup, type PodSnapshot } from "../../domain/pod.js";
import type { JobPodStarts } from "../../state/pod-starts.js";
import type { PodStore } from "../../state/pods.js";
import type { Labels } from "../exposition/family.js";
import { counter, histogram, objectGauge, scrapeGauge, type FamilyGenerator } from "../exposition/generator.js";

/**
 * Seconds; from a pod started at once on a warm node with its image cached, through an image
 * pull, to a spot node provisioned for it (minutes) and capacity that did not come.
 */
export const JOB_POD_STARTUP_BUCKETS = [1, 5, 10, 20, 30, 60, 90, 120, 180, 240, 300, 600, 1800, 3600];

export interface JobPodState {
  readonly pods: PodStore;
  readonly starts: JobPodStarts;
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
  counter({
    name: "gitlab_ci_job_pods_interrupted_total",
    help: "CI job pods taken down by their node's removal or by a disruption (drain, eviction, preemption), each counted once, by the node group and zone of their node (\"\" when the node was not known: nodes not watched).",
    labels: ["project", "reason", "nodegroup", "zone"],
    connect: ({ pods }, family) => pods.onInterrupted.add(({ project, reason, nodegroup, zone }) => family.inc({ project, reason, nodegroup, zone })),
  }),
  scrapeGauge({
    name: "gitlab_ci_job_pods_waiting",
    help: "CI job pods not all of whose containers run yet, by why they wait: unschedulable (no node fits, PodScheduled False/Unschedulable), scheduling (no verdict yet), container_creating (on a node, ContainerCreating or PodInitializing), image_pull (ErrImagePull, ImagePullBackOff), other (any other waiting reason).",
    labels: ["project", "reason"],
    samples: ({ starts }) => [...starts.waitingGroups()].map(({ project, reason, count }) => [{ project, reason }, count] as const),
  }),
  scrapeGauge({
    name: "gitlab_ci_job_pods_waiting_oldest_timestamp_seconds",
    help: "Unix time at which the longest-waiting CI job pod now waiting for this reason was created; absent when none waits for it.",
    labels: ["reason"],
    samples: ({ starts }) => {
      const oldest = starts.oldestWaiting();
      return WAITING_REASONS.filter((reason) => oldest.has(reason)).map((reason) => [{ reason }, oldest.get(reason)! / 1000] as const);
    },
    combine: Math.min,
  }),
  startupHistogram(
    "gitlab_ci_job_pod_startup_duration_seconds",
    "Time from each CI job pod's creation to its build container running, observed once per pod, by the node it landed on; new_node is true when that node was created after the pod (the pod waited for a scale-up).",
    (startup) => startup.startupSeconds,
  ),
  startupHistogram(
    "gitlab_ci_job_pod_scheduling_duration_seconds",
    "The scheduling part of each observed start: from the pod's creation to its binding to a node (PodScheduled True); the rest of the startup is image pulls and container creation.",
    (startup) => startup.schedulingSeconds,
  ),
];

/**
 * The requests and limits of the job pods' containers: kube-state-metrics exports them for every
 * pod (`kube_pod_container_resource_requests`, `_limits`), and the mixin joins those. Only for
 * clusters without it (`KUBE_EXPORT_POD_RESOURCES`): they are most of the series a job pod costs.
 */
export const JOB_POD_RESOURCE_FAMILIES: readonly FamilyGenerator<JobPodState>[] = [
  containerResources("requests", "Resources each container of a live CI job pod requests: cpu in cores, memory in bytes. Only with KUBE_EXPORT_POD_RESOURCES=true (kube-state-metrics' kube_pod_container_resource_requests otherwise)."),
  containerResources("limits", "Resource limits of each container of a live CI job pod: cpu in cores, memory in bytes. Only with KUBE_EXPORT_POD_RESOURCES=true (kube-state-metrics' kube_pod_container_resource_limits otherwise)."),
];

/** A histogram of each job pod's start, by the node it landed on. */
function startupHistogram(name: string, help: string, seconds: (startup: JobPodStartup) => number | null): FamilyGenerator<JobPodState> {
  return histogram({
    name,
    help,
    labels: ["nodegroup", "capacity_type", "new_node"],
    buckets: JOB_POD_STARTUP_BUCKETS,
    connect: ({ starts }, family) =>
      starts.onStarted.add((startup) => {
        const value = seconds(startup);
        if (value !== null) family.observe({ nodegroup: startup.nodegroup, capacity_type: startup.capacityType, new_node: startup.newNode }, value);
      }),
  });
}

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
