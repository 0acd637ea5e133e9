import type { Labels } from "../exposition/family.js";
import { counter, histogram, scrapeGauge, type FamilyGenerator } from "../exposition/generator.js";
import type { GroupTotals } from "../../state/job-groups.js";
import type { JobStore } from "../../state/jobs.js";
import type { PipelineStore } from "../../state/pipelines.js";
import type { ProjectRegistry } from "../../state/projects.js";

/**
 * Seconds; from a job picked up at once to one stuck for an hour (longer waits are the
 * GitLabCIJobQueuedTooLong alert's, told by the oldest pending job). Ten buckets: a histogram per
 * project costs twelve series with its sum and count.
 */
export const QUEUED_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds; from a lint job to a two-hour integration suite (GitLab's default timeout is one hour). */
export const JOB_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export interface GitLabJobState {
  readonly jobs: JobStore;
  readonly pipelines: PipelineStore;
  readonly projects: ProjectRegistry;
}

/**
 * The GitLab job and pipeline families. The live gauges are read from the job store's per-group totals at
 * scrape; counters and histograms move when the store reports a job started or finished, and a
 * project that leaves takes its series with it.
 */
export const GITLAB_JOB_FAMILIES: readonly FamilyGenerator<GitLabJobState>[] = [
  scrapeGauge({
    name: "gitlab_ci_jobs_pending",
    help: "Jobs in status pending now, by project and the job's own sorted tag list.",
    labels: ["project", "tags"],
    samples: (state) => liveGroups(state, (g) => (g.pending > 0 ? g.pending : null)),
  }),
  scrapeGauge({
    name: "gitlab_ci_jobs_running",
    help: "Jobs in status running now, by project and the job's own sorted tag list.",
    labels: ["project", "tags"],
    samples: (state) => liveGroups(state, (g) => (g.running > 0 ? g.running : null)),
  }),
  scrapeGauge({
    name: "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds",
    help: "Unix time at which the longest-waiting pending job entered the queue; absent when none is pending.",
    labels: ["project", "tags"],
    samples: (state) => liveGroups(state, (g) => (g.oldestQueuedAtMs === null ? null : g.oldestQueuedAtMs / 1000)),
    combine: Math.min,
  }),
  counter({
    name: "gitlab_ci_jobs_finished_total",
    help: "Jobs that reached success, failed or canceled, each counted once; failure_reason as GitLab reports it for failed jobs.",
    labels: ["project", "status", "failure_reason", "runner"],
    connect: ({ jobs, projects }, family) => {
      jobs.onFinished.add((job) => {
        const project = projects.pathOf(job.projectId);
        if (project !== undefined) family.inc({ project, status: job.status, failure_reason: job.failureReason, runner: job.runner });
      });
      projects.onRemoved.add(({ path }) => family.removeMatching({ project: path }));
    },
  }),
  counter({
    name: "gitlab_ci_pipelines_finished_total",
    help: "Pipelines that reached a final status (success, failed, canceled, skipped), each counted once at the first final status GitLab reported (Pipeline Hooks, the pipelines check), when it reached it after the exporter started; child pipelines are left out, as part of their parent's run.",
    labels: ["project", "status"],
    connect: ({ pipelines, projects }, family) => {
      pipelines.onFinished.add((pipeline) => {
        const project = projects.pathOf(pipeline.projectId);
        if (project !== undefined) family.inc({ project, status: pipeline.status });
      });
      projects.onRemoved.add(({ path }) => family.removeMatching({ project: path }));
    },
  }),
  histogram({
    name: "gitlab_ci_job_queued_duration_seconds",
    help: "Time each job waited in the queue before a runner picked it up, observed once per job.",
    labels: ["project"],
    buckets: QUEUED_DURATION_BUCKETS,
    connect: ({ jobs, projects }, family) => {
      jobs.onStarted.add((job) => {
        const project = projects.pathOf(job.projectId);
        if (project !== undefined) family.observe({ project }, job.queuedDurationSeconds);
      });
      projects.onRemoved.add(({ path }) => family.removeMatching({ project: path }));
    },
  }),
  histogram({
    name: "gitlab_ci_job_duration_seconds",
    help: "Run time of each finished job that started.",
    labels: ["project", "status"],
    buckets: JOB_DURATION_BUCKETS,
    connect: ({ jobs, projects }, family) => {
      jobs.onFinished.add((job) => {
        const project = projects.pathOf(job.projectId);
        if (project !== undefined && job.durationSeconds !== null) family.observe({ project, status: job.status }, job.durationSeconds);
      });
      projects.onRemoved.add(({ path }) => family.removeMatching({ project: path }));
    },
  }),
];

/** One sample per watched project and tag set whose `pick` is not null. */
function* liveGroups({ jobs, projects }: GitLabJobState, pick: (group: GroupTotals) => number | null): Iterable<readonly [Labels<"project" | "tags">, number]> {
  for (const [projectId, byTags] of jobs.totals()) {
    const project = projects.pathOf(projectId);
    if (project === undefined) continue;
    for (const [tags, group] of byTags) {
      const value = pick(group);
      if (value !== null) yield [{ project, tags }, value];
    }
  }
}
