import { setMaxListeners } from "node:events";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import type { Config } from "./config/load.js";
import { rejectionReporter } from "./lib/rejections.js";
import { createMetrics, renderMetrics } from "./metrics/index.js";
import { buildServer } from "./server/app.js";
import { GitLabApi } from "./sources/gitlab/api.js";
import { RequestBudget } from "./sources/gitlab/budget.js";
import { GitLabClock } from "./sources/gitlab/clock.js";
import { GitLabPoller } from "./sources/gitlab/poller/coordinator.js";
import { createGitLabRequester } from "./sources/gitlab/transport.js";
import { GitLabWebhookSource } from "./sources/gitlab/webhook-source.js";
import { loadKubeConfig } from "./sources/kube/client.js";
import { KubernetesSource } from "./sources/kube/source.js";
import { JobLinks } from "./state/job-links.js";
import { JobStore, type JobEvents } from "./state/jobs.js";
import { NodeStore } from "./state/nodes.js";
import { PodStore } from "./state/pods.js";
import { ProjectRegistry } from "./state/projects.js";

export interface RunningExporter {
  /** Base URL the server listens on, e.g. http://127.0.0.1:9863. */
  readonly url: string;
  readonly registry: Registry;
  close(): Promise<void>;
}

/**
 * Wires the exporter: GitLab source → job state, Kubernetes source → node and pod state; both →
 * metric families → HTTP server. Data flows one way; each box is built here and handed to the next.
 */
export async function startExporter(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningExporter> {
  const registry = new Registry();
  const metrics = createMetrics(registry, {
    maxSeriesPerFamily: config.maxSeriesPerFamily,
    labelValueMaxBytes: config.labelValueMaxBytes,
    kubernetes: config.kube.enabled,
    kubernetesNodes: config.kube.nodesEnabled,
  });
  const { exporter: exporterMetrics, jobs: jobMetrics } = metrics;
  // Every input refused anywhere is counted and logged through this one reporter.
  const rejections = rejectionReporter((source, reason) => exporterMetrics.invalidObject(source, reason), logger.child({ component: "input" }));

  const projects = new ProjectRegistry(jobMetrics);
  // The GitLab and Kubernetes sides meet by job id: pipelines for the pods' series, and the
  // outcome of builds run in job pods, which only the job's end tells.
  const links = metrics.kube ? new JobLinks(metrics.kube) : undefined;
  const jobEvents: JobEvents = links
    ? {
        jobStarted: (event) => jobMetrics.jobStarted(event),
        jobFinished: (event) => {
          jobMetrics.jobFinished(event);
          links.jobFinished(event);
        },
        jobInPipeline: (jobId, pipelineId) => links.jobInPipeline(jobId, pipelineId),
      }
    : jobMetrics;
  // Counting starts now: a job first seen already finished counts only if it finished from here on.
  const jobs = new JobStore(jobEvents, { countFinishedSinceMs: Date.now(), labelValueMaxBytes: config.labelValueMaxBytes });
  jobMetrics.readFrom(jobs, projects);

  const gitlab = config.gitlab;
  const budget = new RequestBudget(gitlab.maxRequestsPerSecond, gitlab.maxConcurrentRequests);
  const gitlabClock = new GitLabClock(Date.now, rejections);
  const shutdown = new AbortController();
  // Every request waiting for the budget listens to it; their number is bounded by the budget.
  setMaxListeners(0, shutdown.signal);
  const requester = createGitLabRequester({
    shutdown: shutdown.signal,
    budget,
    clock: gitlabClock,
    requestTimeoutMs: gitlab.requestTimeoutMs,
    maxResponseBytes: gitlab.maxResponseBytes,
    rejections,
    onRequest: (endpoint, code) => {
      exporterMetrics.gitlabRequest(endpoint, code);
      logger.debug({ endpoint, code }, "GitLab request");
    },
    onRateLimited: (endpoint, waitMs) => logger.warn({ endpoint, waitMs }, "GitLab rate limit reached; pausing requests"),
  });
  const api = new GitLabApi(gitlab.url, gitlab.token, requester, rejections);
  let lastGitLabSuccessMs: number | null = null;
  const poller = new GitLabPoller(gitlab, {
    api,
    jobs,
    projects,
    log: logger.child({ source: "gitlab" }),
    clock: gitlabClock,
    rejections,
    onSynced: (atMs) => {
      lastGitLabSuccessMs = atMs;
      exporterMetrics.gitlabSynced(atMs);
    },
    onProjectStates: (hot, idle) => exporterMetrics.watchedProjects(hot, idle),
  });

  // Kubernetes: list/watch of nodes and pods → node and pod state → job pod, spot node and build families.
  let kubernetes: KubernetesSource | null = null;
  if (metrics.kube) {
    const nodes = new NodeStore(metrics.kube);
    const pods = new PodStore(metrics.kube, nodes, config.kube.interruptionSettleMs, links);
    kubernetes = new KubernetesSource(config.kube, {
      kubeConfig: loadKubeConfig(config.kube.kubeconfigPaths),
      nodes,
      pods,
      reports: metrics.kube,
      log: logger.child({ source: "kubernetes" }),
      rejections,
      projectPathOf: (id) => projects.pathOf(id),
      labelValueMaxBytes: config.labelValueMaxBytes,
    });
  }

  const webhookSecret = config.webhook.secret;
  const webhooksEnabled = webhookSecret !== null || config.webhook.allowUnauthenticated;
  const app = buildServer({
    metricsBody: () => renderMetrics(metrics),
    web: config.web,
    limits: config.http,
    metrics: exporterMetrics,
    logger,
    health: {
      sources: () => [
        {
          name: "gitlab",
          synced: poller.initialSyncDone,
          lastSuccessMs: lastGitLabSuccessMs,
          // Three missed poll rounds, each allowed its retries.
          staleAfterMs: 3 * gitlab.pollIntervalMs + 2 * gitlab.requestTimeoutMs,
        },
        ...(kubernetes
          ? [{ name: "kubernetes", synced: kubernetes.synced, lastSuccessMs: kubernetes.lastSuccessMs, staleAfterMs: kubernetes.staleAfterMs }]
          : []),
      ],
    },
    ...(webhooksEnabled
      ? {
          webhooks: {
            source: new GitLabWebhookSource(jobs, projects, poller, rejections),
            secret: webhookSecret,
            maxBodyBytes: config.webhook.maxBodyBytes,
          },
        }
      : {}),
  });

  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
  logger.info({ address, gitlab: gitlab.url, webhooks: webhooksEnabled, webhookAuth: webhookSecret !== null }, "gitlab-ci-k8s-exporter listening");
  if (webhookSecret === null && config.webhook.allowUnauthenticated) {
    logger.warn("webhook deliveries are accepted without a secret token (GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED=true)");
  }
  poller.start();
  kubernetes?.start();

  return {
    url: address,
    registry,
    async close() {
      shutdown.abort();
      await Promise.all([poller.stop(), kubernetes?.stop(), app.close()]);
    },
  };
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: "gitlab-ci-k8s-exporter" } });
}
