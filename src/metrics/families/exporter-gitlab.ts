import type { SelfHealth } from "../../state/self-health.js";
import { scrapeCounter, scrapeGauge, type FamilyGenerator } from "../exposition/generator.js";
import { VERSION } from "../exporter.js";

export interface ExporterGitLabState {
  readonly health: SelfHealth;
}

/** The exporter's view of its GitLab side: its build, API usage, webhook deliveries, sync health. */
export const EXPORTER_GITLAB_FAMILIES: readonly FamilyGenerator<ExporterGitLabState>[] = [
  scrapeGauge({
    name: "gitlab_ci_exporter_build_info",
    help: "Always 1; the version label tells which exporter build runs.",
    labels: ["version"],
    samples: () => [[{ version: VERSION }, 1]],
  }),
  scrapeCounter({
    name: "gitlab_ci_exporter_gitlab_requests_total",
    help: 'GitLab API requests made, by route template and HTTP status ("error" when no response arrived).',
    labels: ["endpoint", "code"],
    samples: ({ health }) => health.gitlabRequests.entries(),
  }),
  scrapeCounter({
    name: "gitlab_ci_exporter_webhook_events_total",
    help: "Webhook deliveries received, by X-Gitlab-Event and outcome.",
    labels: ["event", "outcome"],
    samples: ({ health }) => health.webhookEvents.entries(),
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds",
    help: "Unix time of the last poll cycle in which every GitLab request succeeded.",
    labels: [],
    // 0 before the first: the series exists from the start, as it always has.
    samples: ({ health }) => [[{}, (health.lastGitLabSuccessMs ?? 0) / 1000]],
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_gitlab_projects",
    help: "Watched projects: hot ones are polled every interval, idle ones revisited round-robin.",
    labels: ["state"],
    samples: ({ health }) =>
      health.projects === null
        ? []
        : [
            [{ state: "hot" }, health.projects.hot],
            [{ state: "idle" }, health.projects.idle],
          ],
  }),
];
