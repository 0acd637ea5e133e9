import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { KubernetesConfig } from "../../config/load.js";
import type { ProjectPathLookup } from "../../domain/job-pod.js";
import type { RejectionSource, Rejections } from "../../lib/rejections.js";
import type { NodeSnapshot, PodSnapshot } from "../../domain/pod.js";
import type { NodeStore } from "../../state/nodes.js";
import type { PodStore } from "../../state/pods.js";
import { lister, NODE_PATH, podPath, watchOpener } from "./client.js";
import { Informer, type InformerTiming } from "./informer.js";
import { toNodeSnapshot, toPodSnapshot } from "./wire.js";

/** What the source reports of itself (the `gitlab_ci_exporter_kube_*` families). */
export interface KubeSourceReports {
  watchStarted(resource: string): void;
  watchRestarted(resource: string): void;
  eventSeen(resource: string, atMs: number): void;
}

export interface KubernetesSourceDeps {
  readonly kubeConfig: KubeConfig;
  readonly nodes: NodeStore;
  readonly pods: PodStore;
  readonly reports: KubeSourceReports;
  readonly log: Logger;
  /** Where pods and nodes that cannot be read, and timestamps refused as implausible, are counted. */
  readonly rejections: Rejections;
  /** The watched projects' paths by id (the GitLab side's), for job pods that tell only the id. */
  readonly projectPathOf?: ProjectPathLookup;
  /** `LABEL_VALUE_MAX_BYTES`: what a live pod or node keeps for its labels is cut to it. */
  readonly labelValueMaxBytes?: number;
}

/** What the source needs of an informer, whatever it decodes. */
interface RunningInformer {
  start(): void;
  stop(): Promise<void>;
  readonly synced: boolean;
  readonly lastSuccessMs: number | null;
}

/** An informer's last watch event or list, for the `resource` it shares with its siblings. */
interface EventClock {
  readonly resource: string;
  lastEventMs: number;
}

const PAGE_SIZE = 500;
const LIST_TIMEOUT_MS = 60_000;

/**
 * Nodes (cluster-wide, unless switched off) and pods (cluster-wide, or one watch per configured
 * namespace) through resilient informers, turned into snapshots and applied to the node and pod
 * state. Without the node watch the node state stays empty: interruptions are then told by the
 * pods alone.
 */
export class KubernetesSource {
  private readonly informers: RunningInformer[];
  /** One per informer: the pod informers of several namespaces share the `pods` series. */
  private readonly clocks: EventClock[] = [];
  private readonly reports: KubeSourceReports;
  private readonly timing: InformerTiming;
  private readonly pods: PodStore;
  private readonly settleEveryMs: number;
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(config: KubernetesConfig, deps: KubernetesSourceDeps) {
    const { kubeConfig, nodes, pods, reports, log, rejections } = deps;
    this.pods = pods;
    this.reports = reports;
    this.settleEveryMs = Math.max(50, Math.min(1000, config.interruptionSettleMs / 2));
    this.timing = {
      stallMs: config.watchStallMs,
      retryInitialMs: config.retryInitialMs,
      retryMaxMs: config.retryMaxMs,
      pageSize: PAGE_SIZE,
      listTimeoutMs: LIST_TIMEOUT_MS,
    };
    const { limits } = config;
    const openWatch = watchOpener(kubeConfig, limits);
    const common = (resource: string, rejectionSource: RejectionSource) => {
      const clock: EventClock = { resource, lastEventMs: 0 };
      this.clocks.push(clock);
      return {
        resource,
        openWatch,
        timing: this.timing,
        limits,
        rejections,
        rejectionSource,
        log,
        onRestart: () => reports.watchRestarted(resource),
        onEvent: (_resource: string, atMs: number) => {
          clock.lastEventMs = atMs;
          this.reportLastEvent(resource);
        },
      };
    };
    const checking = { rejections: deps.rejections, labelValueMaxBytes: deps.labelValueMaxBytes };
    const nodeRecognition = { ...config.nodes, ...checking };
    const nodeInformer = !config.nodesEnabled
      ? null
      : new Informer<NodeSnapshot>({
          ...common("nodes", "kube_nodes"),
          namespace: "",
          watchPath: NODE_PATH,
          list: lister(kubeConfig, NODE_PATH, limits),
          decode: (raw) => toNodeSnapshot(raw, nodeRecognition),
          // A node's removal sign may decide interruptions its pods are waiting on.
          sink: {
            listed: (items, _first, nowMs) => {
              nodes.replaceAll(items, nowMs);
              pods.decideWaitingInterruptions(nowMs);
            },
            changed: (item, nowMs) => {
              nodes.upsert(item, nowMs);
              pods.decideWaitingInterruptions(nowMs);
            },
            deleted: (item, nowMs) => {
              nodes.remove(item, nowMs);
              pods.decideWaitingInterruptions(nowMs);
            },
          },
        });
    const podRecognition = { ...config.pods, ...checking, projectPathOf: deps.projectPathOf };
    const scopes: ReadonlyArray<string | null> = config.namespaces.length === 0 ? [null] : config.namespaces;
    const podInformers = scopes.map(
      (namespace) =>
        new Informer<PodSnapshot>({
          ...common("pods", "kube_pods"),
          namespace: namespace ?? "",
          watchPath: podPath(namespace),
          list: lister(kubeConfig, podPath(namespace), limits),
          // Null only for a malformed object (counted by the informer); a pod that is not a CI job
          // pod still decodes, with no job, and the pod state decides what to do with it.
          decode: (raw) => toPodSnapshot(raw, podRecognition),
          sink: {
            listed: (items, first, nowMs) => pods.replace(namespace, items, { nowMs, observeHistory: !first }),
            changed: (item, nowMs) => pods.upsert(item, { nowMs, observeHistory: true }),
            deleted: (item, nowMs) => pods.remove(item, nowMs),
          },
        }),
    );
    this.informers = nodeInformer ? [nodeInformer, ...podInformers] : podInformers;
    if (nodeInformer) reports.watchStarted("nodes");
    reports.watchStarted("pods");
  }

  start(): void {
    // Until an informer hears anything, its silence counts from now.
    const now = Date.now();
    for (const clock of this.clocks) clock.lastEventMs = now;
    for (const resource of new Set(this.clocks.map((c) => c.resource))) this.reportLastEvent(resource);
    for (const informer of this.informers) informer.start();
    this.settleTimer = setInterval(() => this.pods.decideWaitingInterruptions(Date.now()), this.settleEveryMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.settleTimer);
    await Promise.all(this.informers.map((informer) => informer.stop()));
  }

  /** Every informer applied its first list. */
  get synced(): boolean {
    return this.informers.every((informer) => informer.synced);
  }

  /** The oldest among the informers' last signs of life; null until each had one. */
  get lastSuccessMs(): number | null {
    let oldest: number | null = null;
    for (const informer of this.informers) {
      const last = informer.lastSuccessMs;
      if (last === null) return null;
      if (oldest === null || last < oldest) oldest = last;
    }
    return oldest;
  }

  /**
   * The oldest of the last events among the resource's informers: a namespace whose watch died
   * shows as stale, not hidden behind the fresh watch of another namespace.
   */
  private reportLastEvent(resource: string): void {
    let oldest = Infinity;
    for (const clock of this.clocks) if (clock.resource === resource) oldest = Math.min(oldest, clock.lastEventMs);
    if (Number.isFinite(oldest)) this.reports.eventSeen(resource, oldest);
  }

  /** A healthy watch shows life at least every stall period; allow one failed retry on top. */
  get staleAfterMs(): number {
    return 2 * this.timing.stallMs + this.timing.retryMaxMs;
  }
}
