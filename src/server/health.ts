import type { FastifyPluginAsync } from "fastify";

export interface SourceHealth {
  readonly name: string;
  /** The source has completed its first full sync. */
  readonly synced: boolean;
  /** Unix ms of the last success, or null. */
  readonly lastSuccessMs: number | null;
  /** Older than this and the source is reported stale. */
  readonly staleAfterMs: number;
  /** What else `/readyz` says of the source (GitLab: its read path). */
  readonly detail?: Readonly<Record<string, string>>;
}

export interface HealthCheck {
  sources(): SourceHealth[];
  now?(): number;
  /** The process is stopping: it still serves, but should be given no new traffic. */
  stopping?(): boolean;
}

/**
 * `/healthz` says the process serves requests. `/readyz` is 200 once every source finished its
 * first sync. A source that goes stale later is reported in the body but keeps readiness: an
 * unready pod leaves the Service, and webhook deliveries would stop exactly while the GitLab
 * API is down and webhooks are the only news left. Once the process is stopping, `/readyz` is
 * 503 "stopping" whatever its sources, so that routers take it out while it still answers.
 */
export const healthRoutes: FastifyPluginAsync<{ health: HealthCheck }> = async (app, { health }) => {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const now = health.now?.() ?? Date.now();
    const sources = health.sources().map((source) => ({
      name: source.name,
      synced: source.synced,
      lastSuccess: source.lastSuccessMs === null ? null : new Date(source.lastSuccessMs).toISOString(),
      stale: source.lastSuccessMs === null || now - source.lastSuccessMs > source.staleAfterMs,
      ...source.detail,
    }));
    if (health.stopping?.()) {
      reply.code(503);
      return { status: "stopping", sources };
    }
    const ready = sources.every((s) => s.synced);
    reply.code(ready ? 200 : 503);
    return { status: ready ? (sources.some((s) => s.stale) ? "stale" : "ready") : "starting", sources };
  });
};

/** When the GitLab side is stale: three missed poll rounds, each allowed its retries. */
export function gitlabStaleAfterMs(pollIntervalMs: number, requestTimeoutMs: number): number {
  return 3 * pollIntervalMs + 2 * requestTimeoutMs;
}
