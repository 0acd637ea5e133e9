import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { GroupTotals, JobEvents, JobFinished, JobStarted, JobStore } from "../state/jobs.js";
import type { ProjectEvents, ProjectRegistry, WatchedProject } from "../state/projects.js";
import { ProjectSeries } from "./project-series.js";
import type { SeriesGuard } from "./series-guard.js";

const FINISHED = "gitlab_ci_jobs_finished_total";
const QUEUED_DURATION = "gitlab_ci_job_queued_duration_seconds";
const DURATION = "gitlab_ci_job_duration_seconds";

/** Seconds; from a job picked up at once to one stuck for two hours. */
export const QUEUED_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
/** Seconds; from a lint job to a long integration suite. */
export const JOB_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

/**
 * The GitLab job families. Gauges are read from the job store at scrape time; counters and
 * histograms move when the store reports a job started or finished.
 */
export class GitLabJobMetrics implements JobEvents, ProjectEvents {
  private readonly finished: Counter<"project" | "status" | "failure_reason" | "runner">;
  private readonly queuedDuration: Histogram<"project">;
  private readonly duration: Histogram<"project" | "status">;
  private readonly finishedSeries;
  private readonly queuedSeries;
  private readonly durationSeries;
  private projects: ProjectRegistry | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly guard: SeriesGuard,
  ) {
    this.finished = new Counter({
      name: FINISHED,
      help: "Jobs that reached success, failed or canceled, each counted once; failure_reason as GitLab reports it for failed jobs.",
      labelNames: ["project", "status", "failure_reason", "runner"],
      registers: [registry],
    });
    this.queuedDuration = new Histogram({
      name: QUEUED_DURATION,
      help: "Time each job waited in the queue before a runner picked it up, observed once per job.",
      labelNames: ["project"],
      buckets: QUEUED_DURATION_BUCKETS,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: DURATION,
      help: "Run time of each finished job that started.",
      labelNames: ["project", "status"],
      buckets: JOB_DURATION_BUCKETS,
      registers: [registry],
    });
    this.finishedSeries = new ProjectSeries(this.finished);
    this.queuedSeries = new ProjectSeries(this.queuedDuration);
    this.durationSeries = new ProjectSeries(this.duration);
  }

  /** Registers the gauges that read live jobs; call once the store exists. */
  readFrom(jobs: JobStore, projects: ProjectRegistry): void {
    this.projects = projects;
    const guard = this.guard;
    const gauge = (name: string, help: string, pick: (group: GroupTotals) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ["project", "tags"],
        registers: [this.registry],
        collect() {
          this.reset();
          let rendered = 0;
          for (const [projectId, byTags] of jobs.totals()) {
            const project = projects.pathOf(projectId);
            if (project === undefined) continue;
            for (const [tags, group] of byTags) {
              const value = pick(group);
              // Rendered afresh each scrape, so the cap applies per scrape rather than by admission.
              if (value !== null && rendered++ < guard.maxPerFamily) this.set({ project, tags }, value);
            }
          }
        },
      });
    gauge("gitlab_ci_jobs_pending", "Jobs in status pending now, by project and the job's own sorted tag list.", (g) => (g.pending > 0 ? g.pending : null));
    gauge("gitlab_ci_jobs_running", "Jobs in status running now, by project and the job's own sorted tag list.", (g) => (g.running > 0 ? g.running : null));
    gauge(
      "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds",
      "Unix time at which the longest-waiting pending job entered the queue; absent when none is pending.",
      (g) => (g.oldestQueuedAtMs === null ? null : g.oldestQueuedAtMs / 1000),
    );
  }

  jobStarted(event: JobStarted): void {
    const project = this.projects?.pathOf(event.projectId);
    if (project === undefined) return;
    if (!this.guard.admit(QUEUED_DURATION, { project })) return;
    this.queuedDuration.observe({ project }, event.queuedDurationSeconds);
    this.queuedSeries.track(project, { project });
  }

  jobFinished(event: JobFinished): void {
    const project = this.projects?.pathOf(event.projectId);
    if (project === undefined) return;
    const labels = { project, status: event.status, failure_reason: event.failureReason, runner: event.runner };
    if (this.guard.admit(FINISHED, labels)) {
      this.finished.inc(labels);
      this.finishedSeries.track(project, labels);
    }
    const durationLabels = { project, status: event.status };
    if (event.durationSeconds !== null && this.guard.admit(DURATION, durationLabels)) {
      this.duration.observe(durationLabels, event.durationSeconds);
      this.durationSeries.track(project, durationLabels);
    }
  }

  projectRemoved(project: WatchedProject): void {
    for (const family of [FINISHED, QUEUED_DURATION, DURATION]) {
      this.guard.release(family, (labels) => labels.project === project.path);
    }
    this.finishedSeries.removeProject(project.path);
    this.queuedSeries.removeProject(project.path);
    this.durationSeries.removeProject(project.path);
  }
}
