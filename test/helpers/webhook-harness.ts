import { inlineSecret } from "../../src/config/secret.js";
import { buildServer } from "../../src/server/app.js";
import type { WebhookShards } from "../../src/server/webhooks.js";
import { GitLabWebhookSource } from "../../src/sources/gitlab/webhook-source.js";
import type { WatchedProject } from "../../src/domain/events.js";
import { buildHouse } from "../../src/wiring.js";

/** The server with a real webhook source and job state, without any GitLab: for app.inject tests. */
export function webhookHarness(options: { secret: string; projects: WatchedProject[]; maxBodyBytes?: number; maxInflightBytes?: number; maxSeriesPerFamily?: number; shards?: WebhookShards }) {
  const { state, exposition } = buildHouse(options.maxSeriesPerFamily ? { maxSeriesPerFamily: options.maxSeriesPerFamily } : {});
  const { jobs, pipelines, projects } = state;
  projects.replaceAll(options.projects);
  const activity: Array<{ projectId: number; pollSoon: boolean }> = [];
  const source = new GitLabWebhookSource(jobs, pipelines, projects, { keepHot: (projectId) => activity.push({ projectId, pollSoon: false }), placeJobsSoon: (projectId) => activity.push({ projectId, pollSoon: true }) });
  const app = buildServer({
    metricsBody: () => exposition.buffers(),
    metrics: state.health,
    health: { sources: () => [] },
    webhooks: {
      source,
      secret: inlineSecret("GITLAB_WEBHOOK_SECRET", options.secret),
      maxBodyBytes: options.maxBodyBytes ?? 16_384,
      maxInflightBytes: options.maxInflightBytes ?? 64 << 20,
      ...(options.shards ? { shards: options.shards } : {}),
    },
  });
  // Shaped like a registry so tests read the whole exposition the way a scrape does.
  const registry = { metrics: () => exposition.text() };
  return { app, registry, activity, jobs, pipelines, projects, health: state.health };
}

/** The job-family samples, which no rejected delivery may change. */
export async function jobSamples(exposition: { metrics(): Promise<string> }): Promise<string> {
  return (await exposition.metrics())
    .split("\n")
    .filter((line) => line.startsWith("gitlab_ci_job"))
    .join("\n");
}
