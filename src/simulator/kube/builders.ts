import type { V1Container, V1ContainerStatus, V1Node, V1Pod, V1ResourceRequirements, V1Taint } from "@kubernetes/client-node";
import { nodeResources } from "./instance-types.js";

/**
 * Objects shaped like the ones a cluster holds: EKS/Karpenter/GKE/AKS/kops spot nodes, and job
 * pods as gitlab-runner's Kubernetes executor creates them (v19.3 labels and annotations, or an
 * older runner with only the legacy `pod` label).
 */

export type SpotProvider = "eks" | "karpenter" | "gke-spot" | "gke-preemptible" | "azure" | "kops-lifecycle";

const CAPACITY_LABELS: Record<SpotProvider, [string, string, string]> = {
  eks: ["eks.amazonaws.com/capacityType", "SPOT", "eks.amazonaws.com/nodegroup"],
  karpenter: ["karpenter.sh/capacity-type", "spot", "karpenter.sh/nodepool"],
  "gke-spot": ["cloud.google.com/gke-spot", "true", "cloud.google.com/gke-nodepool"],
  "gke-preemptible": ["cloud.google.com/gke-preemptible", "true", "cloud.google.com/gke-nodepool"],
  azure: ["kubernetes.azure.com/scalesetpriority", "spot", "kubernetes.azure.com/agentpool"],
  "kops-lifecycle": ["node.kubernetes.io/lifecycle", "spot", "kops.k8s.io/instancegroup"],
};

export interface NodeOptions {
  readonly name: string;
  readonly instanceType?: string;
  readonly zone?: string;
  readonly nodegroup?: string;
  readonly createdAt?: Date;
  /** `status.allocatable` (and capacity); by default what EKS leaves pods of the instance type, none for a type not in the catalogue. */
  readonly allocatable?: { readonly cpu: string; readonly memory: string };
}

export function buildSpotNode(options: NodeOptions & { provider?: SpotProvider }): V1Node {
  const [capacityKey, capacityValue, groupKey] = CAPACITY_LABELS[options.provider ?? "eks"];
  const node = buildOnDemandNode({ ...options, nodegroup: undefined });
  node.metadata!.labels![capacityKey] = capacityValue;
  node.metadata!.labels![groupKey] = options.nodegroup ?? "ci-spot";
  return node;
}

/** The node group a node belongs to, by the label its provider sets; undefined when none. */
export function nodeGroupOf(node: V1Node): string | undefined {
  const labels = node.metadata?.labels ?? {};
  for (const [, , groupKey] of Object.values(CAPACITY_LABELS)) if (labels[groupKey] !== undefined) return labels[groupKey];
  return undefined;
}

/** An on-demand node; with a `nodegroup`, one of an EKS managed node group of on-demand capacity. */
export function buildOnDemandNode(options: NodeOptions): V1Node {
  const zone = options.zone ?? "us-west-2a";
  const instanceType = options.instanceType ?? "m6i.2xlarge";
  const resources = options.allocatable ? { capacity: { ...options.allocatable }, allocatable: { ...options.allocatable } } : nodeResources(instanceType);
  return {
    metadata: {
      name: options.name,
      ...(options.createdAt ? { creationTimestamp: options.createdAt } : {}),
      labels: {
        ...(options.nodegroup ? { "eks.amazonaws.com/nodegroup": options.nodegroup, "eks.amazonaws.com/capacityType": "ON_DEMAND" } : {}),
        "kubernetes.io/hostname": options.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": instanceType,
        "beta.kubernetes.io/instance-type": instanceType,
        "topology.kubernetes.io/region": zone.slice(0, -1),
        "topology.kubernetes.io/zone": zone,
        "failure-domain.beta.kubernetes.io/zone": zone,
      },
    },
    spec: { providerID: `aws:///${zone}/i-${options.name.replace(/[^a-z0-9]/g, "").slice(-17)}`, taints: [] },
    status: {
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", ...(options.createdAt ? { lastTransitionTime: options.createdAt } : {}) }],
      ...(resources ?? {}),
      nodeInfo: {
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "containerd://1.7.27",
        kernelVersion: "6.1.0",
        kubeProxyVersion: "",
        kubeletVersion: "v1.31.7-eks-1234567",
        machineID: "",
        operatingSystem: "linux",
        osImage: "Amazon Linux 2023",
        systemUUID: "",
      },
    },
  };
}

export interface RunnerJobPodOptions {
  readonly namespace?: string;
  readonly runnerName?: string;
  readonly runnerToken?: string;
  readonly projectId: number;
  readonly projectPath: string;
  readonly gitlabUrl?: string;
  readonly jobId: number;
  readonly jobName: string;
  readonly ref: string;
  readonly sha?: string;
  readonly nodeName?: string;
  readonly buildImage?: string;
  readonly helperImage?: string;
  readonly requests?: Record<string, string>;
  readonly limits?: Record<string, string>;
  readonly services?: ReadonlyArray<{ name: string; image: string }>;
  /** 17.8: before the `runner.gitlab.com` labels (v17.9); only the legacy `pod` label. */
  readonly runnerVersion?: "19.3" | "17.8";
  readonly extraLabels?: Record<string, string>;
  readonly extraAnnotations?: Record<string, string>;
  readonly concurrent?: number;
  readonly suffix?: string;
}

/** gitlab-runner's sanitizeLabel: [A-Za-z0-9-_.] kept, others `_`, trimmed, 63 characters. */
export function sanitizeLabel(value: string): string {
  return value
    .replace(/[^A-Za-z0-9\-_.]/g, "_")
    .replace(/^[-_.]+|[-_.]+$/g, "")
    .slice(0, 63)
    .replace(/[-_.]+$/g, "");
}

export function buildRunnerJobPod(options: RunnerJobPodOptions): V1Pod {
  const token = options.runnerToken ?? "aXk2Lp9Qz";
  const unique = `runner-${token.toLowerCase()}-project-${options.projectId}-concurrent-${options.concurrent ?? 0}`;
  const name = `${unique}-${options.suffix ?? randomSuffix(options.jobId)}`;
  const namespacePath = options.projectPath.split("/").slice(0, -1).join("/");
  const gitlabUrl = (options.gitlabUrl ?? "https://gitlab.example.com").replace(/\/+$/, "");
  const runnerName = options.runnerName ?? "eks-spot-runner";
  const helperImage = options.helperImage ?? "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v19.3.0";
  const labels: Record<string, string> =
    options.runnerVersion === "17.8"
      ? { pod: unique }
      : {
          pod: sanitizeLabel(unique),
          "project.runner.gitlab.com/id": String(options.projectId),
          "project.runner.gitlab.com/namespace-id": "118",
          "project.runner.gitlab.com/name": sanitizeLabel(options.projectPath.split("/").at(-1)!),
          "project.runner.gitlab.com/namespace": sanitizeLabel(namespacePath),
          "project.runner.gitlab.com/root-namespace": sanitizeLabel(options.projectPath.split("/")[0]!),
          "job.runner.gitlab.com/pod": sanitizeLabel(unique),
          "manager.runner.gitlab.com/name": sanitizeLabel(runnerName),
          "manager.runner.gitlab.com/id-short": sanitizeLabel(token),
        };
  const resources: V1ResourceRequirements = {
    requests: options.requests ?? { cpu: "1", memory: "2Gi" },
    ...(options.limits ? { limits: options.limits } : {}),
  };
  const container = (containerName: string, image: string, res: V1ResourceRequirements): V1Container => ({
    name: containerName,
    image,
    resources: res,
    securityContext: { capabilities: { drop: ["NET_RAW"] } },
  });
  return {
    metadata: {
      name,
      namespace: options.namespace ?? "gitlab-runner",
      labels: { ...labels, ...options.extraLabels },
      annotations: {
        "job.runner.gitlab.com/id": String(options.jobId),
        "job.runner.gitlab.com/url": `${gitlabUrl}/${options.projectPath}/-/jobs/${options.jobId}`,
        "job.runner.gitlab.com/sha": options.sha ?? "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        "job.runner.gitlab.com/before_sha": "5c1f0e9a7b3d2c4e6f8a0b1c2d3e4f5a6b7c8d9e",
        "job.runner.gitlab.com/ref": options.ref,
        "job.runner.gitlab.com/name": options.jobName,
        "job.runner.gitlab.com/timeout": "1h0m0s",
        "project.runner.gitlab.com/id": String(options.projectId),
        ...options.extraAnnotations,
      },
    },
    spec: {
      restartPolicy: "Never",
      ...(options.nodeName ? { nodeName: options.nodeName } : {}),
      initContainers: [container("init-permissions", helperImage, { requests: { cpu: "100m", memory: "128Mi" } })],
      containers: [
        container("build", options.buildImage ?? "alpine:3.20", resources),
        container("helper", helperImage, { requests: { cpu: "100m", memory: "128Mi" } }),
        ...(options.services ?? []).map((service) => container(service.name, service.image, { requests: { cpu: "250m", memory: "256Mi" } })),
      ],
    },
    status: { phase: "Pending", qosClass: "Burstable" },
  };
}

/** A pod of a plain Kubernetes Job (no runner), e.g. an image build outside CI. */
export function buildKubernetesJobPod(options: { namespace: string; jobName: string; image: string; nodeName?: string; containerName?: string }): V1Pod {
  return {
    metadata: {
      name: `${options.jobName}-${randomSuffix(options.jobName.length).slice(0, 5)}`,
      namespace: options.namespace,
      labels: { "batch.kubernetes.io/job-name": options.jobName, "job-name": options.jobName },
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: options.jobName, uid: `job-${options.jobName}`, controller: true }],
    },
    spec: {
      restartPolicy: "Never",
      ...(options.nodeName ? { nodeName: options.nodeName } : {}),
      containers: [{ name: options.containerName ?? "kaniko", image: options.image, resources: { requests: { cpu: "500m", memory: "1Gi" } } }],
    },
    status: { phase: "Pending" },
  };
}

/**
 * Bound to a node (at `at`, the `PodScheduled` condition's transition), its containers waiting
 * while the kubelet pulls their images and creates them: `ContainerCreating`, or with init
 * containers, `PodInitializing` until they are done.
 */
export function podCreating(pod: V1Pod, nodeName: string, at?: Date): void {
  pod.spec!.nodeName = nodeName;
  const initContainers = pod.spec!.initContainers ?? [];
  const reason = initContainers.length > 0 ? "PodInitializing" : "ContainerCreating";
  pod.status = {
    phase: "Pending",
    qosClass: "Burstable",
    conditions: [{ type: "PodScheduled", status: "True", ...(at ? { lastTransitionTime: at } : {}) }],
    ...(initContainers.length > 0 ? { initContainerStatuses: initContainers.map((c) => waitingStatus(c, "PodInitializing")) } : {}),
    containerStatuses: pod.spec!.containers.map((c) => waitingStatus(c, reason)),
  };
}

/**
 * No node fits the pod: the scheduler's verdict, as kube-scheduler records it (`PodScheduled`
 * False, reason `Unschedulable`, the FailedScheduling message), and no node name.
 */
export function podUnschedulable(pod: V1Pod, message: string, at: Date): void {
  delete pod.spec!.nodeName;
  const previous = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  pod.status = {
    phase: "Pending",
    qosClass: "Burstable",
    conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastTransitionTime: previous?.lastTransitionTime ?? at }],
  };
}

/** One container (init or not) of a bound pod waits for this reason: `ErrImagePull`, `ImagePullBackOff`, `CreateContainerConfigError`, ... */
export function podContainerWaiting(pod: V1Pod, containerName: string, reason: string, message: string): void {
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    if (status.name === containerName) status.state = { waiting: { reason, message } };
  }
}

/** The kubelet's messages for an image it cannot pull (a registry answering 429), first and while it backs off. */
export function imagePullMessage(image: string, reason: "ErrImagePull" | "ImagePullBackOff"): string {
  if (reason === "ImagePullBackOff") return `Back-off pulling image "${image}"`;
  return `failed to pull and unpack image "${image}": failed to copy: httpReadSeeker: failed open: unexpected status code: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`;
}

function waitingStatus(container: V1Container, reason: string): V1ContainerStatus {
  return { name: container.name, image: container.image ?? "", imageID: "", ready: false, restartCount: 0, started: false, state: { waiting: { reason } } };
}

/**
 * Every container running since `startedAt` (init containers done just before), keeping the time
 * the pod was bound when it has one.
 */
export function podRunning(pod: V1Pod, startedAt: Date): void {
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "True");
  const initContainers = pod.spec!.initContainers ?? [];
  pod.status = {
    phase: "Running",
    qosClass: "Burstable",
    startTime: startedAt,
    conditions: [
      scheduled ?? { type: "PodScheduled", status: "True" },
      { type: "Ready", status: "True" },
    ],
    ...(initContainers.length > 0
      ? { initContainerStatuses: initContainers.map((c) => ({ name: c.name, image: c.image ?? "", imageID: "", ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed", startedAt, finishedAt: startedAt } } })) }
      : {}),
    containerStatuses: pod.spec!.containers.map((c) => ({ name: c.name, image: c.image ?? "", imageID: "", ready: true, restartCount: 0, started: true, state: { running: { startedAt } } })),
  };
}

/** Every container (or the named ones) terminated with the exit code. */
export function podTerminated(pod: V1Pod, options: { finishedAt: Date; exitCode: number; containers?: readonly string[]; phase?: "Succeeded" | "Failed" }): void {
  const statuses = pod.status?.containerStatuses ?? [];
  for (const status of statuses) {
    if (options.containers && !options.containers.includes(status.name)) continue;
    const startedAt = status.state?.running?.startedAt ?? options.finishedAt;
    status.state = { terminated: { exitCode: options.exitCode, reason: options.exitCode === 0 ? "Completed" : "Error", startedAt, finishedAt: options.finishedAt } };
    status.ready = false;
  }
  if (!options.containers) pod.status!.phase = options.phase ?? (options.exitCode === 0 ? "Succeeded" : "Failed");
}

export type DisruptionReason = "EvictionByEvictionAPI" | "TerminationByKubelet" | "DeletionByPodGC" | "PreemptionByScheduler" | "DeletionByTaintManager";

export function addDisruptionTarget(pod: V1Pod, reason: DisruptionReason): void {
  pod.status ??= {};
  pod.status.conditions = [...(pod.status.conditions ?? []), { type: "DisruptionTarget", status: "True", reason, message: "simulated disruption" }];
}

/**
 * The kubelet's graceful node shutdown terminated the pod at `at`: containers killed, phase Failed
 * with the kubelet's reason (`Terminated` before Kubernetes 1.27's `NodeShutdown`), not Ready,
 * and the `DisruptionTarget` condition it adds since 1.26.
 */
export function podFailedBy(pod: V1Pod, reason: "Terminated" | "NodeShutdown", at: Date = new Date()): void {
  pod.status ??= {};
  pod.status.phase = "Failed";
  pod.status.reason = reason;
  pod.status.message = reason === "NodeShutdown" ? "Pod was terminated in response to imminent node shutdown." : "Pod was terminated in response to node termination.";
  for (const status of pod.status.containerStatuses ?? []) {
    const startedAt = status.state?.running?.startedAt ?? status.state?.terminated?.startedAt ?? at;
    const finishedAt = status.state?.terminated?.finishedAt ?? at;
    status.state = { terminated: { exitCode: status.state?.terminated?.exitCode ?? 137, reason: status.state?.terminated?.reason ?? "Error", startedAt, finishedAt } };
    status.ready = false;
  }
  const others = (pod.status.conditions ?? []).filter((c) => c.type !== "Ready" && c.type !== "DisruptionTarget");
  pod.status.conditions = [
    ...others,
    { type: "Ready", status: "False", reason: "PodFailed", lastTransitionTime: at },
    { type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message: "Pod was terminated in response to imminent node shutdown.", lastTransitionTime: at },
  ];
}

export const NODE_TAINTS = {
  autoscalerScaleDown: { key: "ToBeDeletedByClusterAutoscaler", effect: "NoSchedule" },
  spotInterruption: { key: "aws-node-termination-handler/spot-itn", effect: "NoExecute" },
  rebalanceRecommendation: { key: "aws-node-termination-handler/rebalance-recommendation", effect: "NoSchedule" },
  karpenterDisrupted: { key: "karpenter.sh/disrupted", effect: "NoSchedule" },
  gceImpendingTermination: { key: "cloud.google.com/impending-node-termination", effect: "NoSchedule" },
} as const satisfies Record<string, V1Taint>;

/** The taint a node carries until its kubelet reports Ready (the node lifecycle controller's). */
export const NOT_READY_TAINT = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" } as const satisfies V1Taint;

/** A node just registered: not Ready (its network not up yet) and tainted so, since `at`. */
export function nodeNotReady(node: V1Node, at: Date): void {
  node.spec ??= {};
  node.spec.taints = [...(node.spec.taints ?? []).filter((t) => t.key !== NOT_READY_TAINT.key), { ...NOT_READY_TAINT, timeAdded: at }];
  node.status ??= {};
  node.status.conditions = [
    { type: "Ready", status: "False", reason: "KubeletNotReady", message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized", lastTransitionTime: at },
  ];
}

/** The node's kubelet reports Ready since `at`; the not-ready taint goes. */
export function nodeReady(node: V1Node, at: Date): void {
  node.spec ??= {};
  node.spec.taints = (node.spec.taints ?? []).filter((t) => t.key !== NOT_READY_TAINT.key);
  node.status ??= {};
  node.status.conditions = [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastTransitionTime: at }];
}

export function taintNode(node: V1Node, taint: V1Taint): void {
  node.spec ??= {};
  node.spec.taints = [...(node.spec.taints ?? []), { ...taint, value: taint.value ?? String(Math.floor(Date.now() / 1000)) }];
}

export function cordon(node: V1Node): void {
  node.spec ??= {};
  node.spec.unschedulable = true;
}

function randomSuffix(seed: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let x = (seed * 2654435761) >>> 0;
  let out = "";
  for (let i = 0; i < 8; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out += alphabet[x % alphabet.length];
  }
  return out;
}
