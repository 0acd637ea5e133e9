import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Secret } from "../config/secret.js";
import { ByteBudget } from "../lib/byte-budget.js";
import type { ExporterMetrics } from "../metrics/exporter.js";
import { eventLabel, projectIdOf, type WebhookReceiver } from "../sources/gitlab/webhook-source.js";
import { holdBodiesInBudget, SHED_ERROR_CODE } from "./webhook-body-budget.js";
import { FORWARDED_HEADER, placementOf, type ShardRouting, type WebhookForwarder } from "./webhook-forward.js";

/** Where deliveries of other shards' projects go: absent when one replica does all the work. */
export interface WebhookShards {
  readonly routing: ShardRouting;
  readonly forwarder: Pick<WebhookForwarder, "forward" | "hold">;
  /** Counts each delivery sent on, delivered or not. */
  forwarded(outcome: "delivered" | "failed"): void;
}

export interface WebhookRouteOptions {
  readonly source: WebhookReceiver;
  readonly shards?: WebhookShards;
  readonly secret: Secret | null;
  readonly maxBodyBytes: number;
  /** Body bytes read at once over every delivery (`GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES`). */
  readonly maxInflightBytes: number;
  readonly metrics: ExporterMetrics;
}

/**
 * `POST /webhooks/gitlab`. The token is checked before the body is parsed, so an unauthenticated
 * client cannot make the exporter parse anything. Every answer carries a reason, and the process
 * never fails on what a client sends.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (app, options) => {
  const { secret, metrics } = options;
  const inflight = new ByteBudget(options.maxInflightBytes);

  /**
   * Too many body bytes in flight: answered 202 unread (a 4xx or 5xx would count towards GitLab
   * disabling the hook). The body is not read, so the project it names is unknown: its change
   * is read by polling, within the bound polling guarantees without webhooks.
   */
  const shed = (request: FastifyRequest, reply: FastifyReply) => {
    const event = eventLabel(header(request.headers["x-gitlab-event"]));
    metrics.webhookEvent(event, "shed");
    const reason = `webhook bodies in flight would exceed ${options.maxInflightBytes} bytes (GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES); left to polling`;
    request.log.warn({ event, outcome: "shed", reason }, "webhook delivery not read; acknowledged");
    return reply.code(202).send({ status: "shed", reason });
  };

  // Reached only after the token was checked (onRequest runs before the body is read): the
  // delivery is authentic, so it is acknowledged with 200 whatever its body, counted and logged.
  // A 4xx would count towards GitLab disabling the hook.
  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, request, reply) => {
    // A body refused before its end is drained and dropped, and the connection kept: closing it
    // while GitLab still writes would make the acknowledgement a failed delivery.
    reply.removeHeader("connection");
    request.raw.resume();
    if (error.code === SHED_ERROR_CODE) return shed(request, reply);
    const event = eventLabel(header(request.headers["x-gitlab-event"]));
    const tooLarge = error.statusCode === 413;
    const outcome = tooLarge ? "too_large" : "invalid";
    metrics.webhookEvent(event, outcome);
    const reason = tooLarge
      ? `body larger than ${options.maxBodyBytes} bytes (GITLAB_WEBHOOK_MAX_BODY_BYTES)`
      : error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
        ? "expected Content-Type: application/json"
        : `malformed body: ${error.message}`;
    request.log.warn({ event, outcome, reason }, "webhook delivery not readable; acknowledged");
    reply.code(200).send({ status: outcome, reason });
  });

  app.post(
    "/webhooks/gitlab",
    {
      bodyLimit: options.maxBodyBytes,
      preParsing: holdBodiesInBudget(inflight, options.maxBodyBytes, shed),
      onRequest: async (request, reply) => {
        if (secret !== null && !tokenMatches(header(request.headers["x-gitlab-token"]), secret.value())) {
          metrics.webhookEvent(eventLabel(header(request.headers["x-gitlab-event"])), "unauthorized");
          return reply.code(401).send({ error: "missing or wrong X-Gitlab-Token" });
        }
      },
    },
    deliveryHandler(options),
  );
};

/** An authentic delivery: applied here, or sent on to the replica that applies its project's. */
function deliveryHandler({ source, shards, metrics }: WebhookRouteOptions) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const event = header(request.headers["x-gitlab-event"]);
    const routed = shards ? await routeToShard(shards, event, request, metrics) : null;
    if (routed) return reply.code(routed.status).send(routed.body);
    const result = source.receive(event, request.body, header(request.headers["idempotency-key"]));
    metrics.webhookEvent(eventLabel(event), result.outcome);
    reply.code(result.status);
    return result.status < 300 ? { status: result.outcome, reason: result.reason } : { error: result.reason };
  };
}

/**
 * A delivery about a project another replica applies: sent on to it and answered 200 once it
 * applied it (counted there, not here). When no replica of the shard takes it (its replica
 * restarts, its standby has not taken over yet), it is held and tried again, answered 202 at
 * once, and counted here as `unforwarded` only if it is never taken (its change is then read by
 * polling). A delivery sent on by another replica is applied here or refused with 421, so the
 * sender tries the shard's next replica. A standby whose active replica does not answer applies
 * its own shard's deliveries itself. Null: apply here.
 */
async function routeToShard(shards: WebhookShards, event: string | undefined, request: FastifyRequest, metrics: ExporterMetrics): Promise<{ status: number; body: object } | null> {
  const projectId = event === "Job Hook" || event === "Pipeline Hook" ? projectIdOf(request.body) : undefined;
  if (projectId === undefined) return null;
  const placement = placementOf(shards.routing, projectId);
  if (placement === "here") return null;
  const shard = shards.routing.shardOf(projectId);
  if (request.headers[FORWARDED_HEADER] !== undefined) {
    return { status: 421, body: { status: "misdirected", reason: `this replica does not apply project ${projectId}'s deliveries now` } };
  }
  if (await shards.forwarder.forward(projectId, request.headers, request.body)) {
    shards.forwarded("delivered");
    return { status: 200, body: { status: "forwarded", reason: `applied by shard ${shard}` } };
  }
  if (placement === "own-shard") {
    shards.forwarded("failed");
    return null;
  }
  const unforwarded = () => {
    shards.forwarded("failed");
    metrics.webhookEvent(eventLabel(event), "unforwarded");
    request.log.warn({ event, projectId, shard }, "no replica of the project's shard took the webhook delivery; left to polling");
  };
  const held = shards.forwarder.hold(projectId, request.headers, request.body, (delivered) => (delivered ? shards.forwarded("delivered") : unforwarded()));
  if (held) return { status: 202, body: { status: "queued", reason: `shard ${shard} did not answer; sent on once it does` } };
  unforwarded();
  return { status: 202, body: { status: "unforwarded", reason: `shard ${shard} did not answer and too much waits for it already; left to polling` } };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Constant time whatever the lengths: both sides are hashed to the same size first. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && expected !== "";
}
