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
];

/**
 * The poller's view of its projects: exported by the replica that polls (a standby's shard is
 * polled by its active replica, and these would say nothing of it).
 */
export const EXPORTER_GITLAB_POLL_FAMILIES: readonly FamilyGenerator<ExporterGitLabState>[] = [
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
  scrapeGauge({
    name: "gitlab_ci_exporter_gitlab_projects_unread",
    help: "Watched projects whose live jobs the exporter has not read yet (neither a sweep nor a first visit): readiness does not wait for them, this says how much of the picture is still missing.",
    labels: [],
    samples: ({ health }) => (health.projects === null ? [] : [[{}, health.projects.unread]]),
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_gitlab_read_path",
    help: "How live jobs are read: 1 for the path in use (instance: GraphQL's instance job list; sweep: GraphQL, 100 projects a request; rest: REST polling alone), 0 for the others.",
    labels: ["path"],
    samples: ({ health }) => (health.readPath === null ? [] : READ_PATHS.map((path) => [{ path }, path === health.readPath ? 1 : 0] as const)),
  }),
  scrapeCounter({
    name: "gitlab_ci_exporter_gitlab_sweeps_total",
    help: "GraphQL sweeps of the watched projects, by read path and outcome (ok, failed).",
    labels: ["path", "outcome"],
    samples: ({ health }) => health.sweeps.entries(),
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_gitlab_last_sweep_timestamp_seconds",
    help: "Unix time the last GraphQL sweep that read every watched project ended.",
    labels: [],
    samples: ({ health }) => (health.lastSweep === null ? [] : [[{}, health.lastSweep.atMs / 1000]]),
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_gitlab_last_sweep_requests",
    help: "GitLab requests the last complete sweep took (ceil(projects / 100) for a group sweep, ceil(live jobs / 100) for the instance's).",
    labels: [],
    samples: ({ health }) => (health.lastSweep === null ? [] : [[{}, health.lastSweep.requests]]),
  }),
];

/** The read paths, in the order their series are written. */
const READ_PATHS = ["instance", "sweep", "rest"] as const;
