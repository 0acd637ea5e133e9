import { setMaxListeners } from "node:events";
import { pino, type Logger } from "pino";
import type { Config } from "./config/load.js";
import { rejectionReporter } from "./lib/rejections.js";
import { buildServer } from "./server/app.js";
import { gitlabStaleAfterMs } from "./server/health.js";
import { GitLabApi } from "./sources/gitlab/api.js";
import { RequestBudget } from "./sources/gitlab/budget.js";
import { GitLabClock } from "./sources/gitlab/clock.js";
import { GitLabPoller } from "./sources/gitlab/poller.js";
import { createGitLabRequester } from "./sources/gitlab/transport.js";
import { GitLabWebhookSource } from "./sources/gitlab/webhook-source.js";
import { loadKubeConfig } from "./sources/kube/client.js";
import { KubernetesSource } from "./sources/kube/source.js";
import { buildHouse } from "./wiring.js";

export interface RunningExporter {
  /** Base URL the server listens on, e.g. http://127.0.0.1:9863. */
  readonly url: string;
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
    interruptionSettleMs: config.kube.interruptionSettleMs,
  });
  const { health, jobs, projects } = state;
  // Every input refused anywhere is counted and logged through this one reporter.
  const rejections = rejectionReporter((source, reason) => health.invalidObject(source, reason), logger.child({ component: "input" }));

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
      health.gitlabRequest(endpoint, code);
      logger.debug({ endpoint, code }, "GitLab request");
    },
    onRateLimited: (endpoint, waitMs) => logger.warn({ endpoint, waitMs }, "GitLab rate limit reached; pausing requests"),
  });
  const api = new GitLabApi(gitlab.url, gitlab.token, requester, rejections);
  const poller = new GitLabPoller(gitlab, {
    api,
    jobs,
    projects,
    log: logger.child({ source: "gitlab" }),
    clock: gitlabClock,
    onSynced: (atMs) => health.gitlabSynced(atMs),
    onProjectStates: (hot, idle) => health.watchedProjects(hot, idle),
  });

  // Kubernetes: list/watch of nodes and pods → node and pod state → job pod, spot node and build families.
  let kubernetes: KubernetesSource | null = null;
  if (state.kube) {
    kubernetes = new KubernetesSource(config.kube, {
      kubeConfig: loadKubeConfig(config.kube.kubeconfigPaths),
      nodes: state.kube.nodes,
      pods: state.kube.pods,
      reports: health,
      log: logger.child({ source: "kubernetes" }),
      rejections,
      projectPathOf: (id) => projects.pathOf(id),
      labelValueMaxBytes: config.labelValueMaxBytes,
    });
  }

  const webhookSecret = config.webhook.secret;
  const webhooksEnabled = webhookSecret !== null || config.webhook.allowUnauthenticated;
  const app = buildServer({
    metricsBody: () => exposition.buffers(),
    web: config.web,
    metrics: health,
    logger,
    health: {
      sources: () => [
        {
          name: "gitlab",
          synced: poller.initialSyncDone,
          lastSuccessMs: health.lastGitLabSuccessMs,
          staleAfterMs: gitlabStaleAfterMs(gitlab.pollIntervalMs, gitlab.requestTimeoutMs),
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
    async close() {
      shutdown.abort();
      await Promise.all([poller.stop(), kubernetes?.stop(), app.close()]);
      state.kube?.pods.close();
    },
  };
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: "gitlab-ci-k8s-exporter" } });
}
