import { Counter, Gauge, type Registry } from "prom-client";
import packageJson from "../../package.json" with { type: "json" };
import type { WebhookOutcome } from "../domain/events.js";

export const VERSION: string = packageJson.version;

/** The exporter's view of itself: API usage, webhook deliveries, sync health. */
export class ExporterMetrics {
  private readonly requests: Counter<"endpoint" | "code">;
  private readonly webhookEvents: Counter<"event" | "outcome">;
  private readonly lastSuccess: Gauge;
  private readonly projects: Gauge<"state">;
  private readonly invalidObjects: Counter<"source" | "reason">;

  constructor(registry: Registry) {
    new Gauge({
      name: "gitlab_ci_exporter_build_info",
      help: "Always 1; the version label tells which exporter build runs.",
      labelNames: ["version"],
      registers: [registry],
    }).set({ version: VERSION }, 1);
    this.requests = new Counter({
      name: "gitlab_ci_exporter_gitlab_requests_total",
      help: "GitLab API requests made, by route template and HTTP status (\"error\" when no response arrived).",
      labelNames: ["endpoint", "code"],
      registers: [registry],
    });
    this.webhookEvents = new Counter({
      name: "gitlab_ci_exporter_webhook_events_total",
      help: "Webhook deliveries received, by X-Gitlab-Event and outcome.",
      labelNames: ["event", "outcome"],
      registers: [registry],
    });
    this.lastSuccess = new Gauge({
      name: "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds",
      help: "Unix time of the last poll cycle in which every GitLab request succeeded.",
      registers: [registry],
    });
    this.projects = new Gauge({
      name: "gitlab_ci_exporter_gitlab_projects",
      help: "Watched projects: hot ones are polled every interval, idle ones revisited round-robin.",
      labelNames: ["state"],
      registers: [registry],
    });
    this.invalidObjects = new Counter({
      name: "gitlab_ci_exporter_invalid_objects_total",
      help: "Input refused or cut back to what is plausible: list entries failing their schema, hook fields, watch objects, GitLab Date headers; by where it came from and why.",
      labelNames: ["source", "reason"],
      registers: [registry],
    });
  }

  gitlabRequest(endpoint: string, code: string): void {
    this.requests.inc({ endpoint, code });
  }

  webhookEvent(event: string, outcome: WebhookOutcome): void {
    this.webhookEvents.inc({ event, outcome });
  }

  gitlabSynced(atMs: number): void {
    this.lastSuccess.set(atMs / 1000);
  }

  invalidObject(source: string, reason: string): void {
    this.invalidObjects.inc({ source, reason });
  }

  watchedProjects(hot: number, idle: number): void {
    this.projects.set({ state: "hot" }, hot);
    this.projects.set({ state: "idle" }, idle);
  }
}
