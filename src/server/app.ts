import Fastify, { LogController } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Secret } from "../config/secret.js";
import type { ExporterMetrics } from "../metrics/exporter.js";
import type { GitLabWebhookSource } from "../sources/gitlab/webhook-source.js";
import { healthRoutes, type HealthCheck } from "./health.js";
import { indexPage } from "./index-page.js";
import { webhookRoutes } from "./webhooks.js";

export interface ServerDeps {
  readonly registry: Registry;
  readonly health: HealthCheck;
  readonly metrics: ExporterMetrics;
  /** Absent: the webhook endpoint is disabled (no secret configured). */
  readonly webhooks?: {
    readonly source: GitLabWebhookSource;
    readonly secret: Secret;
    readonly maxBodyBytes: number;
  };
  readonly logger?: Logger | false;
}

/** The HTTP face of the exporter: metrics, health, the GitLab webhook, and an index page. */
export function buildServer(deps: ServerDeps) {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    // Webhook bodies are limited per route; this is the ceiling for everything else.
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
  });

  app.get("/", async (_request, reply) => {
    reply.type("text/html; charset=utf-8");
    return indexPage({ webhooks: deps.webhooks !== undefined });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await deps.registry.metrics();
    reply.type(deps.registry.contentType);
    return body;
  });

  app.register(healthRoutes, { health: deps.health });
  if (deps.webhooks) {
    app.register(webhookRoutes, { ...deps.webhooks, metrics: deps.metrics });
  }
  return app;
}
