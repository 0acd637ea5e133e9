import type { ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { DEFAULT_HTTP_LIMITS, type HttpLimits, type WebConfig } from "../config/server-config.js";
import type { Secret } from "../config/secret.js";
import type { ExporterMetrics } from "../metrics/exporter.js";
import type { WebhookReceiver } from "../sources/gitlab/webhook-source.js";
import { guardConnections } from "./connections.js";
import { healthRoutes, type HealthCheck } from "./health.js";
import { indexPage } from "./index-page.js";
import { metricsGuard } from "./metrics-auth.js";
import { webhookRoutes, type WebhookShards } from "./webhooks.js";

export interface ServerDeps {
  /** Renders the whole exposition, as buffers written out in order. */
  readonly metricsBody: () => Promise<readonly Buffer[]>;
  readonly health: HealthCheck;
  readonly metrics: ExporterMetrics;
  /** Absent: the webhook endpoint is disabled. */
  readonly webhooks?: {
    readonly source: WebhookReceiver;
    /** Where deliveries of other shards' projects go; absent when one replica does all the work. */
    readonly shards?: WebhookShards;
    /** null: deliveries are accepted without a token (explicitly allowed). */
    readonly secret: Secret | null;
    readonly maxBodyBytes: number;
    /** Body bytes read at once over every delivery; past it a delivery is answered 202 unread. */
    readonly maxInflightBytes: number;
  };
  /** `/metrics` authentication and TLS; open plain HTTP when absent. */
  readonly web?: WebConfig;
  /** Timeouts and the connection cap; the documented defaults when absent. */
  readonly limits?: HttpLimits;
  readonly logger?: Logger | false;
}

const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/**
 * Node's own limits: the headers timeout, and how often the expired headers and request timeouts
 * are looked for (every 30 s by default, which would let a 10 s limit run to 40 s).
 */
function nodeServerOptions(limits: HttpLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, limits.headersTimeoutMs / 4)),
  };
}

/** The HTTP face of the exporter: metrics, health, the GitLab webhook, and an index page. */
export function buildServer(deps: ServerDeps) {
  const limits = deps.limits ?? DEFAULT_HTTP_LIMITS;
  const options: FastifyServerOptions = {
    ...(deps.logger ? { loggerInstance: deps.logger } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    // Webhook bodies are limited per route; this is the ceiling for everything else.
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    // No byte moving either way while a request is handled: a client that stopped reading.
    connectionTimeout: limits.idleTimeoutMs,
  };
  const nodeOptions = nodeServerOptions(limits);
  const tls = deps.web?.tls;
  // Typed as the plain HTTP instance either way: routes and hooks are the same over HTTPS.
  const app = Fastify(
    tls
      ? ({ ...options, https: { cert: tls.cert, key: tls.key, ...nodeOptions, handshakeTimeout: limits.headersTimeoutMs } } as unknown as FastifyServerOptions)
      : { ...options, http: nodeOptions },
  );

  const connections = guardConnections(app, limits, { tls: Boolean(tls), ...(deps.logger ? { log: deps.logger } : {}) });
  closeConnectionsWhileStopping(app, deps.health);

  app.get("/", async (_request, reply) => {
    reply.type("text/html; charset=utf-8");
    return indexPage({ webhooks: deps.webhooks !== undefined });
  });

  const writing = scrapesInFlight(app, () => connections.closeUnanswered());
  const guard = deps.web ? metricsGuard(deps.web) : undefined;
  app.get("/metrics", { ...(guard ? { onRequest: guard } : {}) }, async (request, reply) => {
    const body = await deps.metricsBody();
    reply.hijack();
    writeExposition(request.method, reply.raw, body, writing);
  });

  app.register(healthRoutes, { health: deps.health });
  if (deps.webhooks) {
    app.register(webhookRoutes, { ...deps.webhooks, metrics: deps.metrics });
  }
  return app;
}

/**
 * While the process is stopping, every answer closes its connection: a router that holds a
 * kept-alive connection to this pod (an ingress controller, a load balancer; kube-proxy keeps an
 * established connection on its pod) opens its next one through the Service, to a pod that
 * stays, instead of sending it down a connection the drain is about to close.
 */
function closeConnectionsWhileStopping(app: FastifyInstance, health: HealthCheck): void {
  const stopping = health.stopping;
  if (!stopping) return;
  app.addHook("onRequest", (_request, reply, done) => {
    // Merged into the head whether the route replies through Fastify or writes it itself (/metrics).
    if (stopping()) reply.raw.setHeader("connection", "close");
    done();
  });
}

/**
 * Scrapes whose bytes are not all handed to the socket yet. Node's server.close() destroys every
 * connection whose response has ended, even one whose bytes still wait in the process for a slow
 * reader; closing waits for these first, so no scrape in flight is cut short.
 */
function scrapesInFlight(app: FastifyInstance, closeUnanswered: () => void): Set<Promise<void>> {
  const writing = new Set<Promise<void>>();
  app.addHook("preClose", async () => {
    // Idle clients and ones still sending their request would hold the exit for nothing.
    closeUnanswered();
    await Promise.all(writing);
  });
  return writing;
}

/**
 * The buffers go to the socket as they are, in one corked write: joining them first would copy
 * the whole exposition on every scrape.
 */
function writeExposition(method: string, response: ServerResponse, body: readonly Buffer[], writing: Set<Promise<void>>): void {
  let length = 0;
  for (const chunk of body) length += chunk.length;
  response.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "content-length": length });
  if (method === "HEAD") return void response.end();
  const flushed = new Promise<void>((resolve) => {
    response.once("finish", resolve);
    response.once("close", resolve);
  });
  writing.add(flushed);
  void flushed.then(() => writing.delete(flushed));
  response.cork();
  for (const chunk of body) response.write(chunk);
  response.end();
  response.uncork();
}
