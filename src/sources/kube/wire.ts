import { z } from "zod";
import { detectBuilder, RUNNER_BUILD_CONTAINER, type BuilderImage } from "../../domain/builder.js";
import { jobPodProjectId, recogniseJobPod, type JobPodIdentity, type JobPodOptions, type ProjectIdLookup, type ProjectPathLookup } from "../../domain/job-pod.js";
import { evidenceFromTaints, instanceTypeOf, isSpotNode, nodeGroupOf, zoneOf, type LabelSelector } from "../../domain/node.js";
import type { ContainerRun, ContainerSnapshot, NodeSnapshot, PodSnapshot, ResourceAmounts } from "../../domain/pod.js";
import { cutLabelValue, DEFAULT_LABEL_VALUE_MAX_BYTES } from "../../domain/label-value.js";
import { FieldChecks } from "../../domain/plausibility.js";
import { parseQuantity } from "../../domain/quantity.js";
import type { RejectionSource, Rejections } from "../../lib/rejections.js";
import type { StringPool } from "../../lib/string-pool.js";
import { containerStatus, podStart, timeMs, type containerState } from "./pod-start.js";

/**
 * Pods and Nodes as they arrive (the list API hands over client-node's typed objects with Date
 * timestamps, the watch hands over parsed JSON with strings), reduced at once to the few facts
 * kept. The schemas name only the fields read, so parsing also drops everything else.
 */
const timestamp = z.union([z.string(), z.date()]).nullish();
const stringMap = z.record(z.string(), z.string()).nullish();
const quantities = z.record(z.string(), z.union([z.string(), z.number()])).nullish();

const metadata = z.object({
  name: z.string(),
  namespace: z.string().nullish(),
  uid: z.string(),
  creationTimestamp: timestamp,
  deletionTimestamp: timestamp,
  deletionGracePeriodSeconds: z.number().nullish(),
  labels: stringMap,
  annotations: stringMap,
  ownerReferences: z.array(z.object({ kind: z.string() })).nullish(),
});


const podSchema = z.object({
  metadata,
  spec: z
    .object({
      nodeName: z.string().nullish(),
      containers: z
        .array(
          z.object({
            name: z.string(),
            image: z.string().nullish(),
            resources: z.object({ requests: quantities, limits: quantities }).nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
  status: z
    .object({
      phase: z.string().nullish(),
      reason: z.string().nullish(),
      conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().nullish(), lastTransitionTime: timestamp })).nullish(),
      initContainerStatuses: z.array(containerStatus).nullish(),
      containerStatuses: z.array(containerStatus).nullish(),
    })
    .nullish(),
});

const nodeSchema = z.object({
  metadata,
  spec: z.object({ taints: z.array(z.object({ key: z.string() })).nullish() }).nullish(),
  status: z
    .object({
      conditions: z.array(z.object({ type: z.string(), status: z.string(), lastTransitionTime: timestamp })).nullish(),
      allocatable: quantities,
      capacity: quantities,
    })
    .nullish(),
});

type WireContainerState = z.infer<typeof containerState>;

/**
 * Where a decoder reports each timestamp it refused as implausible (see domain/plausibility.ts):
 * the field becomes unknown, the rest of the object is kept.
 */
export interface TimestampChecking {
  readonly rejections?: Rejections;
  /** The exporter's clock, against which a timestamp is "in the future"; `Date.now` when absent. */
  readonly now?: () => number;
  /**
   * Strings kept for labels (the job's ref, name, project, runner; the node's group) are cut to
   * this many bytes (`LABEL_VALUE_MAX_BYTES`), so what a live pod or node holds follows the cap.
   */
  readonly labelValueMaxBytes?: number;
  /** Where the strings many objects repeat (namespaces, nodes, projects, refs) are shared; each object keeps its own when absent. */
  readonly strings?: StringPool;
}

export interface PodRecognition extends TimestampChecking {
  readonly jobPod: JobPodOptions;
  readonly builders: readonly BuilderImage[];
  /** The watched projects' paths by id, for pods that tell only their project's id. */
  readonly projectPathOf?: ProjectPathLookup;
  /** Every discovered project's id by path, for pods that tell their project by path alone. */
  readonly projectIdOf?: ProjectIdLookup;
}

export interface NodeRecognition extends TimestampChecking {
  readonly spotSelectors: readonly LabelSelector[];
  readonly nodegroupKeys: readonly string[];
  readonly instanceTypeKeys: readonly string[];
  readonly zoneKeys: readonly string[];
}

/** Resources reported per container: `cpu` in cores, `memory` in bytes. */
const RESOURCES = ["cpu", "memory"] as const;
const NO_RESOURCES: ResourceAmounts = Object.freeze({});
const NO_RUNS: readonly ContainerRun[] = Object.freeze([]);

/** The pod's snapshot, or null when the object is not a readable Pod. */
export function toPodSnapshot(raw: unknown, recognition: PodRecognition): PodSnapshot | null {
  const parsed = podSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { metadata: meta, spec, status } = parsed.data;
  const times = timeChecks(recognition, "kube_pods", meta);
  const podMeta = { labels: meta.labels ?? undefined, annotations: meta.annotations ?? undefined };
  const identity = recogniseJobPod(podMeta, recognition.jobPod, recognition.projectPathOf);
  const shared = sharing(recognition.strings);
  const job = boundedIdentity(identity, recognition.labelValueMaxBytes ?? DEFAULT_LABEL_VALUE_MAX_BYTES, shared);
  const kubernetesJob = job === null && isKubernetesJobPod(meta.labels, meta.ownerReferences);
  const statuses = status?.containerStatuses ?? [];
  const containers: ContainerSnapshot[] = [];
  for (const container of spec?.containers ?? []) {
    const timed = job !== null ? container.name === RUNNER_BUILD_CONTAINER : kubernetesJob;
    const builder = timed && container.image ? detectBuilder(container.image, recognition.builders) : null;
    if (job === null && builder === null) continue;
    const containerStatus = builder === null ? undefined : statuses.find((s) => s.name === container.name);
    containers.push({
      name: shared(container.name),
      requests: job === null ? NO_RESOURCES : resources(container.resources?.requests, recognition.strings),
      limits: job === null ? NO_RESOURCES : resources(container.resources?.limits, recognition.strings),
      builder,
      finishedRuns: containerStatus ? finishedRuns(times, containerStatus.lastState, containerStatus.state) : NO_RUNS,
    });
  }
  const disruption = status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
  const phase = shared(status?.phase ?? "");
  return {
    uid: meta.uid,
    namespace: shared(meta.namespace ?? ""),
    name: meta.name,
    nodeName: shared(spec?.nodeName ?? ""),
    phase,
    statusReason: shared(status?.reason ?? ""),
    disruption: disruption ? (disruption.reason ?? "") : null,
    finishedAtMs: phase === "Succeeded" || phase === "Failed" ? finishedAtMs(times, statuses, status?.conditions ?? []) : null,
    ...deletion(times, meta.deletionTimestamp, meta.deletionGracePeriodSeconds),
    job,
    projectId: identity === null ? null : jobPodProjectId(podMeta, recognition.jobPod.keys, identity.project, recognition.projectIdOf),
    containers,
    start:
      job === null
        ? null
        : podStart(times, {
            creationTimestamp: meta.creationTimestamp,
            containers: (spec?.containers ?? []).map((c) => c.name),
            conditions: status?.conditions ?? [],
            initContainerStatuses: status?.initContainerStatuses ?? [],
            containerStatuses: statuses,
          }),
  };
}

/** The node's snapshot, or null when the object is not a readable Node. */
export function toNodeSnapshot(raw: unknown, recognition: NodeRecognition): NodeSnapshot | null {
  const parsed = nodeSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { metadata: meta, spec, status } = parsed.data;
  const times = timeChecks(recognition, "kube_nodes", meta);
  const labels = meta.labels ?? undefined;
  const ready = status?.conditions?.find((c) => c.type === "Ready");
  const maxBytes = recognition.labelValueMaxBytes ?? DEFAULT_LABEL_VALUE_MAX_BYTES;
  const shared = sharing(recognition.strings);
  return {
    name: shared(meta.name),
    uid: meta.uid,
    createdAtMs: times.timestamp("metadata.creationTimestamp", timeMs(meta.creationTimestamp), meta.creationTimestamp),
    deletingSinceMs: times.timestamp("metadata.deletionTimestamp", timeMs(meta.deletionTimestamp), meta.deletionTimestamp),
    spot: isSpotNode(labels, recognition.spotSelectors),
    instanceType: shared(cutLabelValue(instanceTypeOf(labels, recognition.instanceTypeKeys), maxBytes)),
    zone: shared(cutLabelValue(zoneOf(labels, recognition.zoneKeys), maxBytes)),
    nodegroup: shared(cutLabelValue(nodeGroupOf(labels, recognition.nodegroupKeys), maxBytes)),
    evidence: evidenceFromTaints(spec?.taints ?? undefined),
    readySinceMs: ready?.status === "True" ? times.timestamp("status.conditions.Ready.lastTransitionTime", timeMs(ready.lastTransitionTime), ready.lastTransitionTime) : null,
    allocatable: resources(status?.allocatable ?? status?.capacity),
  };
}

/** `metadata.resourceVersion` of any watched object (bookmarks carry nothing else). */
export function resourceVersionOf(raw: unknown): string | null {
  const version = (raw as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof version === "string" && version !== "" ? version : null;
}

/** The pool's copy of a string, or the string itself without a pool. */
function sharing(pool: StringPool | undefined): (value: string) => string {
  return pool ? (value) => pool.intern(value) : (value) => value;
}

/** The job's label values, each cut to the label value cap; those many pods repeat shared. */
function boundedIdentity(job: JobPodIdentity | null, maxBytes: number, shared: (value: string) => string): JobPodIdentity | null {
  if (job === null) return null;
  return {
    jobId: cutLabelValue(job.jobId, maxBytes),
    project: shared(cutLabelValue(job.project, maxBytes)),
    ref: shared(cutLabelValue(job.ref, maxBytes)),
    jobName: shared(cutLabelValue(job.jobName, maxBytes)),
    pipelineId: cutLabelValue(job.pipelineId, maxBytes),
    runner: shared(cutLabelValue(job.runner, maxBytes)),
  };
}

/** A pod of a Kubernetes Job: owned by one, or labelled by the Job controller. */
function isKubernetesJobPod(labels: Readonly<Record<string, string>> | null | undefined, owners: ReadonlyArray<{ kind: string }> | null | undefined): boolean {
  return (owners ?? []).some((o) => o.kind === "Job") || labels?.["batch.kubernetes.io/job-name"] !== undefined || labels?.["job-name"] !== undefined;
}

/** The amounts of cpu and memory told; with a pool, alike amounts are one shared object. */
function resources(wire: Readonly<Record<string, string | number>> | null | undefined, pool?: StringPool): ResourceAmounts {
  if (!wire) return NO_RESOURCES;
  if (pool) {
    const told = RESOURCES.map((name) => JSON.stringify(wire[name] ?? null)).join(",");
    return pool.shared(`resources:${told}`, () => resources(wire));
  }
  const result: { -readonly [K in keyof ResourceAmounts]: number } = {};
  let found = false;
  for (const name of RESOURCES) {
    const raw = wire[name];
    const value = raw === undefined ? null : typeof raw === "number" ? raw : parseQuantity(raw);
    if (value === null) continue;
    result[name] = value;
    found = true;
  }
  return found ? result : NO_RESOURCES;
}

function finishedRuns(times: FieldChecks, ...states: WireContainerState[]): readonly ContainerRun[] {
  const runs: ContainerRun[] = [];
  for (const state of states) {
    const terminated = state?.terminated;
    const startedAtMs = times.timestamp("terminated.startedAt", timeMs(terminated?.startedAt), terminated?.startedAt);
    const finishedAtMs = times.timestamp("terminated.finishedAt", timeMs(terminated?.finishedAt), terminated?.finishedAt);
    if (!terminated || startedAtMs === null || finishedAtMs === null) continue;
    runs.push({ startedAtMs, finishedAtMs, exitCode: terminated.exitCode });
  }
  return runs.length === 0 ? NO_RUNS : runs.sort((a, b) => a.startedAtMs - b.startedAtMs);
}

/** When a pod in a final phase got there: its containers' latest finish, else its conditions' latest change. */
function finishedAtMs(
  times: FieldChecks,
  statuses: ReadonlyArray<{ state?: WireContainerState }>,
  conditions: ReadonlyArray<{ lastTransitionTime?: string | Date | null | undefined }>,
): number | null {
  let latest: number | null = null;
  for (const status of statuses) {
    const finishedAt = status.state?.terminated?.finishedAt;
    latest = later(latest, times.timestamp("terminated.finishedAt", timeMs(finishedAt), finishedAt));
  }
  if (latest !== null) return latest;
  for (const condition of conditions) latest = later(latest, times.timestamp("conditions.lastTransitionTime", timeMs(condition.lastTransitionTime), condition.lastTransitionTime));
  return latest;
}

/**
 * `deletionTimestamp` is when the pod is due to be gone: the request came a grace period earlier.
 * The request, not the due time, is what must not lie in the future.
 */
function deletion(
  times: FieldChecks,
  deletionTimestamp: string | Date | null | undefined,
  graceSeconds: number | null | undefined,
): Pick<PodSnapshot, "deletionRequestedAtMs" | "deletionDueAtMs"> {
  const due = timeMs(deletionTimestamp);
  const graceMs = graceSeconds !== null && graceSeconds !== undefined && Number.isFinite(graceSeconds) ? Math.max(0, graceSeconds) * 1000 : 0;
  const requestedAtMs = times.timestamp("metadata.deletionTimestamp", due === null ? null : due - graceMs, deletionTimestamp);
  return { deletionRequestedAtMs: requestedAtMs, deletionDueAtMs: requestedAtMs === null ? null : requestedAtMs + graceMs };
}

function later(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** The timestamp checks of one object, each refusal reported with the object's name. */
function timeChecks(checking: TimestampChecking, source: RejectionSource, meta: { name: string; namespace?: string | null | undefined }): FieldChecks {
  const rejections = checking.rejections;
  return new FieldChecks((checking.now ?? Date.now)(), (field, reason, value) =>
    rejections?.reject(source, reason, { namespace: meta.namespace ?? undefined, name: meta.name, field, value: String(value).slice(0, 64) }),
  );
}
