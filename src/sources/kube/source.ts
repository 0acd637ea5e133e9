import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { KubernetesConfig } from "../../config/load.js";
import type { ProjectIdLookup, ProjectPathLookup } from "../../domain/job-pod.js";
import type { NodeSnapshot, PodSnapshot } from "../../domain/pod.js";
import type { RejectionSource, Rejections } from "../../lib/rejections.js";
import { StringPool } from "../../lib/string-pool.js";
import { lister, NODE_PATH, podPath, watchOpener } from "./client.js";
import { Informer, type InformerOptions, type InformerTiming } from "./informer.js";
import type { NodeSink, PodSink } from "./sinks.js";
import { toNodeSnapshot, toPodSnapshot } from "./wire.js";

/** What the source reports of itself (the `gitlab_ci_exporter_kube_*` families). */
export interface KubeSourceReports {
  watchStarted(resource: string): void;
  watchRestarted(resource: string): void;
  eventSeen(resource: string, atMs: number): void;
}

export interface KubernetesSourceDeps {
  readonly kubeConfig: KubeConfig;
  readonly nodes: NodeSink;
  readonly pods: PodSink;
  readonly reports: KubeSourceReports;
  readonly log: Logger;
  /** Where pods and nodes that cannot be read, and timestamps refused as implausible, are counted. */
  readonly rejections: Rejections;
  /** The watched projects' paths by id (the GitLab side's), for job pods that tell only the id. */
  readonly projectPathOf?: ProjectPathLookup;
  /** Every discovered project's id by path (the GitLab side's), to place pods that tell their project by path alone. */
  readonly projectIdOf?: ProjectIdLookup;
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

/**
 * When one informer last listed or heard a watch event. The pod informers of several namespaces
 * share the `pods` resource, and its last event is the oldest of theirs.
 */
interface InformerLastEvent {
  readonly resource: string;
  atMs: number;
}

/** What every informer of the source shares, whatever it watches. */
type CommonInformerOptions = Omit<InformerOptions<unknown>, "namespace" | "watchPath" | "list" | "decode" | "sink">;

const PAGE_SIZE = 500;
const LIST_TIMEOUT_MS = 60_000;

/**
 * Nodes (cluster-wide, unless switched off) and pods (cluster-wide, or one watch per configured
 * namespace) through resilient informers, turned into snapshots and handed to the node and pod
 * sinks. Without the node watch the node sink hears nothing: interruptions are then told by the
 * pods alone.
 */
export class KubernetesSource {
  private readonly informers: RunningInformer[];
  private readonly lastEvents: InformerLastEvent[] = [];
  private readonly timing: InformerTiming;
  /** The strings the nodes and pods of every informer repeat, kept once. */
  private readonly strings = new StringPool();

  constructor(
    config: KubernetesConfig,
    private readonly deps: KubernetesSourceDeps,
  ) {
    this.timing = {
      stallMs: config.watchStallMs,
      retryInitialMs: config.retryInitialMs,
      retryMaxMs: config.retryMaxMs,
      pageSize: PAGE_SIZE,
      listTimeoutMs: LIST_TIMEOUT_MS,
    };
    const nodeInformer = config.nodesEnabled ? this.nodeInformer(config) : null;
    const scopes: ReadonlyArray<string | null> = config.namespaces.length === 0 ? [null] : config.namespaces;
    const podInformers = scopes.map((namespace) => this.podInformer(config, namespace));
    this.informers = nodeInformer ? [nodeInformer, ...podInformers] : podInformers;
    if (nodeInformer) deps.reports.watchStarted("nodes");
    deps.reports.watchStarted("pods");
  }

  start(): void {
    // Until an informer hears anything, its silence counts from now.
    const now = Date.now();
    for (const lastEvent of this.lastEvents) lastEvent.atMs = now;
    for (const resource of new Set(this.lastEvents.map((e) => e.resource))) this.reportLastEvent(resource);
    for (const informer of this.informers) informer.start();
  }

  async stop(): Promise<void> {
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

  /** A healthy watch shows life at least every stall period; allow one failed retry on top. */
  get staleAfterMs(): number {
    return 2 * this.timing.stallMs + this.timing.retryMaxMs;
  }

  private nodeInformer(config: KubernetesConfig): Informer<NodeSnapshot> {
    const { kubeConfig, nodes } = this.deps;
    const recognition = { ...config.nodes, rejections: this.deps.rejections, labelValueMaxBytes: this.deps.labelValueMaxBytes, strings: this.strings };
    return new Informer<NodeSnapshot>({
      ...this.commonOptions(config, "nodes", "kube_nodes"),
      namespace: "",
      watchPath: NODE_PATH,
      list: lister(kubeConfig, NODE_PATH, config.limits),
      decode: (raw) => toNodeSnapshot(raw, recognition),
      sink: {
        listed: (items, _first, nowMs) => nodes.replaceAll(items, nowMs),
        changed: (item, nowMs) => nodes.upsert(item, nowMs),
        deleted: (item, nowMs) => nodes.remove(item, nowMs),
      },
    });
  }

  /** The pods of one namespace, or of all when `namespace` is null. */
  private podInformer(config: KubernetesConfig, namespace: string | null): Informer<PodSnapshot> {
    const { kubeConfig, pods, rejections, labelValueMaxBytes, projectPathOf, projectIdOf } = this.deps;
    const recognition = { ...config.pods, rejections, labelValueMaxBytes, projectPathOf, projectIdOf, strings: this.strings };
    return new Informer<PodSnapshot>({
      ...this.commonOptions(config, "pods", "kube_pods"),
      namespace: namespace ?? "",
      watchPath: podPath(namespace),
      list: lister(kubeConfig, podPath(namespace), config.limits),
      // Null only for a malformed object (counted by the informer); a pod that is not a CI job
      // pod still decodes, with no job, and the pod sink decides what to do with it.
      decode: (raw) => toPodSnapshot(raw, recognition),
      sink: {
        listed: (items, first, nowMs) => pods.replace(namespace, items, { nowMs, observeEndedBuilds: !first }),
        changed: (item, nowMs) => pods.upsert(item, { nowMs, observeEndedBuilds: true }),
        deleted: (item, nowMs) => pods.remove(item, nowMs),
      },
    });
  }

  /** The options of one more informer of `resource`, with its own record of its last event. */
  private commonOptions(config: KubernetesConfig, resource: string, rejectionSource: RejectionSource): CommonInformerOptions {
    const { kubeConfig, reports, rejections, log } = this.deps;
    const lastEvent: InformerLastEvent = { resource, atMs: 0 };
    this.lastEvents.push(lastEvent);
    return {
      resource,
      openWatch: watchOpener(kubeConfig, config.limits),
      timing: this.timing,
      limits: config.limits,
      rejections,
      rejectionSource,
      log,
      onRestart: () => reports.watchRestarted(resource),
      onEvent: (_resource, atMs) => {
        lastEvent.atMs = atMs;
        this.reportLastEvent(resource);
      },
    };
  }

  /**
   * The oldest of the last events among the resource's informers: a namespace whose watch died
   * shows as stale, not hidden behind the fresh watch of another namespace.
   */
  private reportLastEvent(resource: string): void {
    let oldest = Infinity;
    for (const lastEvent of this.lastEvents) if (lastEvent.resource === resource) oldest = Math.min(oldest, lastEvent.atMs);
    if (Number.isFinite(oldest)) this.deps.reports.eventSeen(resource, oldest);
  }
}
