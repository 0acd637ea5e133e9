import { setMaxListeners } from "node:events";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Config, GitLabConfig } from "./config/load.js";
import { ownsProject, type Sharding } from "./domain/shard.js";
import { CountingGate } from "./lib/counting-gate.js";
import { rejectionReporter, type Rejections } from "./lib/rejections.js";
import type { MetricsState } from "./metrics/index.js";
import type { Exposition } from "./metrics/exposition/renderer.js";
import { gitlabStaleAfterMs, type SourceHealth } from "./server/health.js";
import { GitLabApi } from "./sources/gitlab/api.js";
import { RequestBudget } from "./sources/gitlab/budget.js";
import { GitLabClock } from "./sources/gitlab/clock.js";
import { GitLabGraphql } from "./sources/gitlab/graphql/client.js";
import { GitLabPoller } from "./sources/gitlab/poller/coordinator.js";
import { GitLabTransport } from "./sources/gitlab/transport.js";
import { GitLabWebhookSource } from "./sources/gitlab/webhook-source.js";
import { KubernetesSource } from "./sources/kube/source.js";
import { buildHouse } from "./wiring.js";

export interface GenerationOptions {
  readonly config: Config;
  /** The shard this generation works for, of how many. */
  readonly sharding: Sharding;
  /** Polls and exports at once; else it stands by until `activate`. */
  readonly active: boolean;
  readonly kubeConfig: KubeConfig | null;
  readonly logger: Logger;
}

/** Counts a standby holds back, at most, for the moment it takes over. */
const MAX_HELD_COUNTS = 100_000;

/**
 * The exporter's work for one shard: state and families (`wiring.ts`), the GitLab source (its
 * share of the request budget, its own projects) and the Kubernetes source (its own pods, every
 * node), and the receiver of its webhook deliveries. A standby generation keeps its watches
 * and its discovery running, holds its counts back and leaves its shard's series out; `activate`
 * makes it poll and export from its predecessor's last sign of life. When the split changes, a
 * new generation replaces this one, as a restart would.
 */
export class Generation {
  readonly state: MetricsState;
  readonly exposition: Exposition;
  readonly poller: GitLabPoller;
  readonly kubernetes: KubernetesSource | null;
  readonly webhooks: GitLabWebhookSource;
  private readonly gate: CountingGate;
  private activeNow: boolean;
  private readonly shutdown = new AbortController();

  constructor(private readonly options: GenerationOptions) {
    const { config, sharding, logger } = options;
    this.activeNow = options.active;
    this.gate = new CountingGate({ open: options.active, holdMs: 3 * config.sharding.leaseDurationMs, maxHeld: MAX_HELD_COUNTS });
    const { state, exposition } = buildHouse({
      // Counting starts now: a job first seen already finished counts only if it finished from here on.
      countFinishedSinceMs: Date.now(),
      maxSeriesPerFamily: config.maxSeriesPerFamily,
      labelValueMaxBytes: config.labelValueMaxBytes,
      kubernetes: config.kube.enabled,
      spotNodes: config.kube.nodesEnabled,
      podResources: config.kube.exportPodResources,
      interruptionSettleMs: config.kube.interruptionSettleMs,
      prices: config.kube.prices,
      costCounters: config.kube.costCounters,
      sharding,
      standby: () => !this.activeNow,
      gate: this.gate,
    });
    this.state = state;
    this.exposition = exposition;
    state.health.replica = { shard: sharding.shard, totalShards: sharding.total, active: options.active };
    // Every input refused anywhere is counted and logged through this one reporter.
    const rejections = rejectionReporter((source, reason) => state.health.invalidObject(source, reason), logger.child({ component: "input" }));
    this.poller = this.gitlabSource(rejections);
    this.kubernetes = this.kubernetesSource(rejections);
    this.webhooks = new GitLabWebhookSource(state.jobs, state.pipelines, state.projects, this.poller, rejections);
  }

  get active(): boolean {
    return this.activeNow;
  }

  /**
   * Starts discovery (and polling when active) and the watches. A shard lists pods once discovery
   * answered: a pod that tells its project by path alone is then placed by the project's id, as
   * every other shard places it.
   */
  start(): void {
    this.poller.start({ polling: this.activeNow });
    const kubernetes = this.kubernetes;
    if (!kubernetes) return;
    if (this.options.sharding.total <= 1) return kubernetes.start();
    void this.poller.firstDiscovery.then(() => {
      if (!this.shutdown.signal.aborted) kubernetes.start();
    });
  }

  /**
   * Takes the shard's work over: counts from `sinceMs` (the previous active replica's last
   * renewal of the Lease; null when there was none, from this generation's start), polls GitLab
   * and exports the shard's series.
   */
  activate(sinceMs: number | null): void {
    if (this.activeNow) return;
    if (sinceMs !== null) {
      this.state.jobs.countFrom(sinceMs);
      this.state.pipelines.countFrom(sinceMs);
    }
    // Before the gate opens: the pods' holds that ended meanwhile, which it releases, count from `sinceMs`.
    this.state.kube?.cost?.countFrom(sinceMs);
    this.activeNow = true;
    this.state.health.replica = { ...this.state.health.replica, active: true };
    this.gate.openFrom(sinceMs);
    this.poller.startPolling();
  }

  async stop(): Promise<void> {
    this.shutdown.abort();
    await Promise.all([this.poller.stop(), this.kubernetes?.stop()]);
    this.state.kube?.pods.close();
  }

  health(): SourceHealth[] {
    return [this.gitlabHealth(), ...(this.kubernetes ? [kubernetesHealth(this.kubernetes)] : [])];
  }

  /** GitLab: REST polling and the GraphQL sweep (and, with webhooks, hooks) → job and project state. */
  private gitlabSource(rejections: Rejections): GitLabPoller {
    const { config, sharding, logger } = this.options;
    const gitlab = shardBudget(config.gitlab, sharding.total, config.sharding.ownToken);
    const { health } = this.state;
    const clock = new GitLabClock(Date.now, rejections);
    // Every request waiting for the budget listens to it; their number is bounded by the budget.
    setMaxListeners(0, this.shutdown.signal);
    const transport = new GitLabTransport({
      shutdown: this.shutdown.signal,
      budget: new RequestBudget(gitlab.maxRequestsPerSecond, gitlab.maxConcurrentRequests),
      clock,
      requestTimeoutMs: gitlab.requestTimeoutMs,
      maxResponseBytes: gitlab.maxResponseBytes,
      rejections,
      onRequest: (endpoint, code) => {
        health.gitlabRequest(endpoint, code);
        logger.debug({ endpoint, code }, "GitLab request");
      },
      onRateLimited: (endpoint, waitMs, ratePerSecond) =>
        logger.warn({ endpoint, waitMs, ratePerSecond: Number(ratePerSecond.toPrecision(3)) }, "GitLab rate limit reached; pausing requests and slowing down"),
    });
    return new GitLabPoller(
      { ...gitlab, ...(sharding.total > 1 ? { owns: (id: number) => ownsProject(sharding, id) } : {}) },
      {
        api: new GitLabApi(gitlab.url, gitlab.token, transport.requesterFn, rejections),
        graphql: gitlab.readPath === "rest" ? undefined : new GitLabGraphql(transport, gitlab.url, gitlab.token),
        jobs: this.state.jobs,
        pipelines: this.state.pipelines,
        projects: this.state.projects,
        log: logger.child({ source: "gitlab" }),
        clock,
        rejections,
        onSynced: (atMs) => health.gitlabSynced(atMs),
        onProjectStates: (hot, idle, unread) => health.watchedProjects(hot, idle, unread),
        onReadPath: (path) => health.readPathChosen(path),
        onSweep: (path, outcome, requests) => health.sweepEnded(path, outcome, requests, Date.now()),
      },
    );
  }

  /** Kubernetes: list/watch of nodes and pods → node and pod state; null when the side is off. */
  private kubernetesSource(rejections: Rejections): KubernetesSource | null {
    const { config, kubeConfig, logger } = this.options;
    const { kube, projects, health } = this.state;
    if (!kube || !kubeConfig) return null;
    return new KubernetesSource(config.kube, {
      kubeConfig,
      nodes: kube.nodes,
      pods: kube.pods,
      reports: health,
      log: logger.child({ source: "kubernetes" }),
      rejections,
      projectPathOf: (id) => projects.pathOf(id),
      projectIdOf: (path) => this.poller.projectIdOf(path),
      labelValueMaxBytes: config.labelValueMaxBytes,
    });
  }

  private gitlabHealth(): SourceHealth {
    const { pollIntervalMs, requestTimeoutMs } = this.options.config.gitlab;
    return {
      name: "gitlab",
      synced: this.poller.initialSyncDone,
      lastSuccessMs: this.state.health.lastGitLabSuccessMs,
      staleAfterMs: gitlabStaleAfterMs(pollIntervalMs, requestTimeoutMs),
      detail: { readPath: this.activeNow ? (this.poller.readPath ?? "choosing") : "standby" },
    };
  }
}

function kubernetesHealth(kubernetes: KubernetesSource): SourceHealth {
  return { name: "kubernetes", synced: kubernetes.synced, lastSuccessMs: kubernetes.lastSuccessMs, staleAfterMs: kubernetes.staleAfterMs };
}

/**
 * A shard's part of the request budget: a token shared by every shard is one GitLab user's, whose
 * rate limit they share, so each spends `GITLAB_MAX_REQUESTS_PER_SECOND / TOTAL_SHARDS`; a shard
 * with its own token (`GITLAB_TOKEN_FILE` naming `{shard}`) spends the whole. The round-robin's
 * pace is the fleet's either way: each shard visits its share of the projects at its share of it.
 */
export function shardBudget(gitlab: GitLabConfig, total: number, ownToken: boolean): GitLabConfig {
  if (total <= 1) return gitlab;
  return { ...gitlab, maxRequestsPerSecond: ownToken ? gitlab.maxRequestsPerSecond : gitlab.maxRequestsPerSecond / total, idleRequestsPerSecond: gitlab.idleRequestsPerSecond / total };
}
