import type { NodeSnapshot, PodSnapshot } from "../domain/pod.js";
import type { NodeEvents, SpotNodeRemoved } from "../state/nodes.js";
import type { BuildFinished, JobPodInterrupted, PodEvents } from "../state/pods.js";
import { ObjectGaugeFamily } from "./object-family.js";
import type { SeriesGuard } from "./series-guard.js";
import { CounterFamily, HistogramFamily, type FamilyOptions, type Labels, type TextFamily } from "./text-family.js";

/** Seconds; from a node reclaimed minutes after launch to one that lived two days. */
export const SPOT_NODE_LIFETIME_BUCKETS = [300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800];
/** Seconds; from a cached layer push to a cold monorepo image. */
export const IMAGE_BUILD_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600];

type PodInfoLabel = "namespace" | "pod" | "node" | "project" | "ref" | "job_name" | "job_id" | "pipeline_id" | "runner";
type ResourceLabel = "namespace" | "pod" | "container" | "resource";
const RESOURCES = ["cpu", "memory"] as const;
type SpotGroupLabel = "instance_type" | "zone" | "nodegroup";

/**
 * The Kubernetes families. Per-pod and per-node series are rendered when the pod or node changes
 * and leave with it; counters and histograms move when the state reports an interruption, a
 * finished build or a removed spot node.
 */
export class KubeMetrics implements PodEvents, NodeEvents {
  private readonly podInfo: ObjectGaugeFamily<PodInfoLabel>;
  private readonly requests: ObjectGaugeFamily<ResourceLabel>;
  private readonly limits: ObjectGaugeFamily<ResourceLabel>;
  private readonly spotNodes: ObjectGaugeFamily<SpotGroupLabel>;
  private readonly spotNodeCreated: ObjectGaugeFamily<"node" | SpotGroupLabel>;
  private readonly spotNodeLifetime: HistogramFamily<SpotGroupLabel | "reason">;
  private readonly interrupted: CounterFamily<"project" | "reason">;
  private readonly buildDuration: HistogramFamily<"builder" | "project" | "result">;
  private readonly watchRestarts: CounterFamily<"resource">;
  private readonly lastEvent: ObjectGaugeFamily<"resource">;
  /** Spot nodes per instance type, zone and node group. */
  private readonly spotGroups = new Map<string, { readonly labels: Labels<SpotGroupLabel>; count: number }>();

  constructor(
    private readonly guard: SeriesGuard,
    private readonly options: { readonly nodes: boolean } = { nodes: true },
  ) {
    const bounds: FamilyOptions = { labelValueMaxBytes: guard.labelValueMaxBytes };
    this.podInfo = new ObjectGaugeFamily(
      "gitlab_ci_job_pod_info",
      "Always 1: one series per live CI job pod, with the job it runs (runner: manager.runner.gitlab.com/name; pipeline_id from a configured key, else from the GitLab side).",
      ["namespace", "pod", "node", "project", "ref", "job_name", "job_id", "pipeline_id", "runner"],
      bounds,
    );
    this.requests = new ObjectGaugeFamily(
      "gitlab_ci_job_pod_container_resource_requests",
      "Resources each container of a live CI job pod requests: cpu in cores, memory in bytes.",
      ["namespace", "pod", "container", "resource"],
      bounds,
    );
    this.limits = new ObjectGaugeFamily(
      "gitlab_ci_job_pod_container_resource_limits",
      "Resource limits of each container of a live CI job pod: cpu in cores, memory in bytes.",
      ["namespace", "pod", "container", "resource"],
      bounds,
    );
    this.spotNodes = new ObjectGaugeFamily(
      "gitlab_ci_spot_nodes",
      "Spot (preemptible) nodes now, by instance type, zone and node group.",
      ["instance_type", "zone", "nodegroup"],
      bounds,
    );
    this.spotNodeCreated = new ObjectGaugeFamily(
      "gitlab_ci_spot_node_created_timestamp_seconds",
      "Unix time at which each live spot node was created.",
      ["node", "instance_type", "zone", "nodegroup"],
      bounds,
    );
    this.spotNodeLifetime = new HistogramFamily(
      "gitlab_ci_spot_node_lifetime_seconds",
      "Lifetime of each spot node that went away (deletion minus creation), observed once, with the strongest sign seen of why it went.",
      ["instance_type", "zone", "nodegroup", "reason"],
      SPOT_NODE_LIFETIME_BUCKETS,
      bounds,
    );
    this.interrupted = new CounterFamily(
      "gitlab_ci_job_pods_interrupted_total",
      "CI job pods taken down by their node's removal or by a disruption (drain, eviction, preemption), each counted once.",
      ["project", "reason"],
      bounds,
    );
    this.buildDuration = new HistogramFamily(
      "gitlab_ci_image_build_duration_seconds",
      "Run time of each image build (Kaniko, BuildKit, Buildah), observed once: a CI job whose build container runs a builder image, timed by the job as GitLab reports it (project set), or a builder container of a Kubernetes Job's pod (project empty).",
      ["builder", "project", "result"],
      IMAGE_BUILD_DURATION_BUCKETS,
      bounds,
    );
    this.watchRestarts = new CounterFamily(
      "gitlab_ci_exporter_kube_watch_restarts_total",
      "Kubernetes list/watch restarts after an error, a dropped or stalled stream, or an expired resourceVersion.",
      ["resource"],
      bounds,
    );
    this.lastEvent = new ObjectGaugeFamily(
      "gitlab_ci_exporter_kube_last_event_timestamp_seconds",
      "Unix time of the last Kubernetes watch event (bookmarks included) or successful list, the exporter's start before any; with one watch per namespace (KUBE_NAMESPACES), the oldest among them.",
      ["resource"],
      bounds,
    );
  }

  /** Every family, in exposition order; the spot node ones only when nodes are watched. */
  families(): TextFamily[] {
    const spot = this.options.nodes ? [this.spotNodes, this.spotNodeCreated, this.spotNodeLifetime] : [];
    return [this.podInfo, this.requests, this.limits, this.interrupted, this.buildDuration, ...spot, this.watchRestarts, this.lastEvent];
  }

  jobPodChanged(previous: PodSnapshot | undefined, next: PodSnapshot | undefined): void {
    const pod = next ?? previous;
    if (!pod) return;
    if (!next || !next.job) {
      this.podInfo.delete(pod.uid);
      this.requests.delete(pod.uid);
      this.limits.delete(pod.uid);
      return;
    }
    const job = next.job;
    if (!this.guard.admitObject(this.podInfo, next.uid, 1)) return;
    this.podInfo.set(next.uid, [
      [
        {
          namespace: next.namespace,
          pod: next.name,
          node: next.nodeName,
          project: job.project,
          ref: job.ref,
          job_name: job.jobName,
          job_id: job.jobId,
          pipeline_id: job.pipelineId,
          runner: job.runner,
        },
        1,
      ],
    ]);
    for (const [family, kind] of [[this.requests, "requests"], [this.limits, "limits"]] as const) {
      const samples = [...resourceSamples(next, kind)];
      if (this.guard.admitObject(family, next.uid, samples.length)) family.set(next.uid, samples);
    }
  }

  jobPodInterrupted(event: JobPodInterrupted): void {
    const labels = { project: event.project, reason: event.reason };
    if (this.guard.admit(this.interrupted, labels)) this.interrupted.inc(labels);
  }

  buildFinished(event: BuildFinished): void {
    const labels = { builder: event.builder, project: event.project, result: event.result };
    if (this.guard.admit(this.buildDuration, labels)) this.buildDuration.observe(labels, event.durationSeconds);
  }

  spotNodeChanged(previous: NodeSnapshot | undefined, next: NodeSnapshot | undefined): void {
    if (previous) {
      this.countSpot(previous, -1);
      this.spotNodeCreated.delete(previous.name);
    }
    if (next) {
      this.countSpot(next, +1);
      if (next.createdAtMs !== null) {
        if (this.guard.admitObject(this.spotNodeCreated, next.name, 1)) this.spotNodeCreated.set(next.name, [[{ node: next.name, ...spotGroup(next) }, next.createdAtMs / 1000]]);
      }
    }
  }

  spotNodeRemoved(event: SpotNodeRemoved): void {
    const labels = { ...spotGroup(event.node), reason: event.reason };
    if (this.guard.admit(this.spotNodeLifetime, labels)) this.spotNodeLifetime.observe(labels, event.lifetimeSeconds);
  }

  watchRestarted(resource: string): void {
    this.watchRestarts.inc({ resource });
  }

  /** Declares a resource's series at zero, so that `rate()` sees the first restart. */
  watchStarted(resource: string): void {
    if (!this.watchRestarts.has({ resource })) this.watchRestarts.inc({ resource }, 0);
  }

  /** A watch event arrived or a list succeeded. */
  eventSeen(resource: string, atMs: number): void {
    this.lastEvent.set(resource, [[{ resource }, atMs / 1000]]);
  }

  private countSpot(node: NodeSnapshot, delta: 1 | -1): void {
    const labels = spotGroup(node);
    const key = `${labels.instance_type}\u0000${labels.zone}\u0000${labels.nodegroup}`;
    let group = this.spotGroups.get(key);
    if (!group) this.spotGroups.set(key, (group = { labels, count: 0 }));
    group.count += delta;
    if (group.count <= 0) {
      this.spotGroups.delete(key);
      this.spotNodes.delete(key);
    } else {
      this.spotNodes.set(key, [[labels, group.count]]);
    }
  }
}

function spotGroup(node: NodeSnapshot): Labels<SpotGroupLabel> {
  return { instance_type: node.instanceType, zone: node.zone, nodegroup: node.nodegroup };
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
