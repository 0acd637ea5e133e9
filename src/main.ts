import { pino, type Logger } from "pino";
import type { Config } from "./config/load.js";
import { ShardReplica } from "./replica.js";
import { buildServer, type ServerDeps } from "./server/app.js";
import { listenOn } from "./server/listen.js";
import { loadKubeConfig } from "./sources/kube/client.js";

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
 * Wires the exporter: the replica (`replica.ts`: its shard of the work, and the Lease that says
 * whether it does it) builds state and the families reading it (`wiring.ts`), the GitLab source →
 * job state and the Kubernetes source → node and pod state (`generation.ts`); then the HTTP
 * server, which serves the current generation. Data flows one way; sources report on themselves
 * into the self-health state through their narrow callbacks.
 */
export async function startExporter(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningExporter> {
  const kubeConfig = config.kube.enabled ? loadKubeConfig(config.kube.kubeconfigPaths) : null;
  const replica = await ShardReplica.create(config, kubeConfig, logger);
  let leaving = false;
  const app = buildServer({
    metricsBody: () => replica.generation.exposition.buffers(),
    web: config.web,
    limits: config.http,
    metrics: { webhookEvent: (event, outcome) => replica.generation.state.health.webhookEvent(event, outcome) },
    logger,
    health: { sources: () => replica.generation.health(), stopping: () => leaving },
    ...webhooks(config, replica),
  });

  const address = await listenOn(app, config.listen);
  logStart(config, logger, address);
  replica.start();

  return {
    url: address,
    leaveService() {
      leaving = true;
    },
    async close() {
      await Promise.all([replica.stop(), app.close()]);
    },
  };
}

/** The webhook endpoint's options, or none when webhooks are off. */
function webhooks(config: Config, replica: ShardReplica): Pick<ServerDeps, "webhooks"> {
  const { secret, allowUnauthenticated, maxBodyBytes, maxInflightBytes } = config.webhook;
  if (secret === null && !allowUnauthenticated) return {};
  const shards = replica.webhookShards();
  return {
    webhooks: {
      source: { receive: (event, body, key) => replica.generation.webhooks.receive(event, body, key) },
      ...(shards ? { shards } : {}),
      secret,
      maxBodyBytes,
      maxInflightBytes,
    },
  };
}

function logStart(config: Config, logger: Logger, address: string): void {
  const { secret, allowUnauthenticated } = config.webhook;
  const webhooksOn = secret !== null || allowUnauthenticated;
  const { shard, total, replicasPerShard } = config.sharding;
  logger.info({ address, gitlab: config.gitlab.url, webhooks: webhooksOn, webhookAuth: secret !== null, shard, totalShards: total, replicasPerShard }, "gitlab-ci-k8s-exporter listening");
  if (secret === null && allowUnauthenticated) {
    logger.warn("webhook deliveries are accepted without a secret token (GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED=true)");
  }
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: "gitlab-ci-k8s-exporter" } });
}
