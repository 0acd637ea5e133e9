import { setMaxListeners } from "node:events";
import { pino, type Logger } from "pino";
import type { Config } from "./config/load.js";
import { rejectionReporter, type Rejections } from "./lib/rejections.js";
import type { MetricsState } from "./metrics/index.js";
import { buildServer, type ServerDeps } from "./server/app.js";
import { gitlabStaleAfterMs, type SourceHealth } from "./server/health.js";
import { listenOn } from "./server/listen.js";
import { GitLabApi } from "./sources/gitlab/api.js";
import { RequestBudget } from "./sources/gitlab/budget.js";
import { GitLabClock } from "./sources/gitlab/clock.js";
import { GitLabPoller } from "./sources/gitlab/poller/coordinator.js";
import { GitLabGraphql } from "./sources/gitlab/graphql/client.js";
import { GitLabTransport } from "./sources/gitlab/transport.js";
import { GitLabWebhookSource } from "./sources/gitlab/webhook-source.js";
import { loadKubeConfig } from "./sources/kube/client.js";
import { KubernetesSource } from "./sources/kube/source.js";
import { buildHouse } from "./wiring.js";

export interface RunningExporter {
  /** Base URL the server listens on, e.g. http://127.0.0.1:9863. */
  readonly url: string;
  /**
   * The first step of a stop: `/readyz` fails and every answer closes its connection, so routers
   * send new traffic elsewhere; webhooks, scrapes and the sources go on until `close`.
   */
  leaveService(): void;
  /** Refuses new connections, waits for the requests in flight, stops the sources. */
  close(): Promise<void>;
}

/**
 * Wires the exporter: state and the families reading it (`wiring.ts`), then the GitLab source →
 * job state, the Kubernetes source → node and pod state, and the HTTP server. Data flows one way;
 * sources report on themselves into the self-health state through their narrow callbacks.
 */
export async function startExporter(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningExporter> {
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
  });
  // Every input refused anywhere is counted and logged through this one reporter.
  const rejections = rejectionReporter((source, reason) => state.health.invalidObject(source, reason), logger.child({ component: "input" }));
  const shutdown = new AbortController();
  const poller = gitlabSource(config, state, rejections, logger, shutdown.signal);
  const kubernetes = kubernetesSource(config, state, rejections, logger);
  let leaving = false;
  const app = buildServer({
    metricsBody: () => exposition.buffers(),
    web: config.web,
    limits: config.http,
    metrics: state.health,
    logger,
    health: { sources: () => [gitlabHealth(config, state, poller), ...(kubernetes ? [kubernetesHealth(kubernetes)] : [])], stopping: () => leaving },
    ...webhooks(config, state, poller, rejections),
  });

  const address = await listenOn(app, config.listen);
  logStart(config, logger, address);
  poller.start();
  kubernetes?.start();

  return {
    url: address,
    leaveService() {
      leaving = true;
    },
    async close() {
      shutdown.abort();
      await Promise.all([poller.stop(), kubernetes?.stop(), app.close()]);
      state.kube?.pods.close();
    },
  };
}

/** GitLab: REST polling (and, with webhooks, hooks) → job and project state. */
function gitlabSource(config: Config, state: MetricsState, rejections: Rejections, logger: Logger, shutdown: AbortSignal): GitLabPoller {
  const gitlab = config.gitlab;
  const { health } = state;
  const clock = new GitLabClock(Date.now, rejections);
  // Every request waiting for the budget listens to it; their number is bounded by the budget.
  setMaxListeners(0, shutdown);
  const transport = new GitLabTransport({
    shutdown,
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
  return new GitLabPoller(gitlab, {
    api: new GitLabApi(gitlab.url, gitlab.token, transport.requesterFn, rejections),
    graphql: gitlab.readPath === "rest" ? undefined : new GitLabGraphql(transport, gitlab.url, gitlab.token),
    jobs: state.jobs,
    pipelines: state.pipelines,
    projects: state.projects,
    log: logger.child({ source: "gitlab" }),
    clock,
    rejections,
    onSynced: (atMs) => health.gitlabSynced(atMs),
    onProjectStates: (hot, idle, unread) => health.watchedProjects(hot, idle, unread),
    onReadPath: (path) => health.readPathChosen(path),
    onSweep: (path, outcome, requests) => health.sweepEnded(path, outcome, requests, Date.now()),
  });
}

/** Kubernetes: list/watch of nodes and pods → node and pod state; null when the side is off. */
function kubernetesSource(config: Config, state: MetricsState, rejections: Rejections, logger: Logger): KubernetesSource | null {
  if (!state.kube) return null;
  return new KubernetesSource(config.kube, {
    kubeConfig: loadKubeConfig(config.kube.kubeconfigPaths),
    nodes: state.kube.nodes,
    pods: state.kube.pods,
    reports: state.health,
    log: logger.child({ source: "kubernetes" }),
    rejections,
    projectPathOf: (id) => state.projects.pathOf(id),
    labelValueMaxBytes: config.labelValueMaxBytes,
  });
}

/** The webhook endpoint's options, or none when webhooks are off. */
function webhooks(config: Config, state: MetricsState, poller: GitLabPoller, rejections: Rejections): Pick<ServerDeps, "webhooks"> {
  const { secret, allowUnauthenticated, maxBodyBytes, maxInflightBytes } = config.webhook;
  if (secret === null && !allowUnauthenticated) return {};
  return { webhooks: { source: new GitLabWebhookSource(state.jobs, state.pipelines, state.projects, poller, rejections), secret, maxBodyBytes, maxInflightBytes } };
}

function gitlabHealth(config: Config, state: MetricsState, poller: GitLabPoller): SourceHealth {
  const { pollIntervalMs, requestTimeoutMs } = config.gitlab;
  return {
    name: "gitlab",
    synced: poller.initialSyncDone,
    lastSuccessMs: state.health.lastGitLabSuccessMs,
    staleAfterMs: gitlabStaleAfterMs(pollIntervalMs, requestTimeoutMs),
    detail: { readPath: poller.readPath ?? "choosing" },
  };
}

function kubernetesHealth(kubernetes: KubernetesSource): SourceHealth {
  return { name: "kubernetes", synced: kubernetes.synced, lastSuccessMs: kubernetes.lastSuccessMs, staleAfterMs: kubernetes.staleAfterMs };
}

function logStart(config: Config, logger: Logger, address: string): void {
  const { secret, allowUnauthenticated } = config.webhook;
  const webhooksOn = secret !== null || allowUnauthenticated;
  logger.info({ address, gitlab: config.gitlab.url, webhooks: webhooksOn, webhookAuth: secret !== null }, "gitlab-ci-k8s-exporter listening");
  if (secret === null && allowUnauthenticated) {
    logger.warn("webhook deliveries are accepted without a secret token (GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED=true)");
  }
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: "gitlab-ci-k8s-exporter" } });
}
