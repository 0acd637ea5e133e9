import type { GroupTotals, JobEvents, JobFinished, JobStarted, JobStore } from "../state/jobs.js";
import type { ProjectEvents, ProjectRegistry, WatchedProject } from "../state/projects.js";
import type { SeriesGuard } from "./series-guard.js";
import { ComputedGaugeFamily, CounterFamily, HistogramFamily, type FamilyOptions, type Labels, type TextFamily } from "./text-family.js";

/** Seconds; from a job picked up at once to one stuck for two hours. */
export const QUEUED_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
/** Seconds; from a lint job to a long integration suite. */
export const JOB_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

/**
 * The GitLab job families. Counters and histograms render a series when the job store reports a
 * job started or finished; the live gauges are read from the store's per-group totals at scrape.
 */
export class GitLabJobMetrics implements JobEvents, ProjectEvents {
  private readonly finished: CounterFamily<"project" | "status" | "failure_reason" | "runner">;
  private readonly queuedDuration: HistogramFamily<"project">;
  private readonly duration: HistogramFamily<"project" | "status">;
  private gauges: TextFamily[] = [];
  private projects: ProjectRegistry | undefined;
  private readonly limits: FamilyOptions;

  constructor(private readonly guard: SeriesGuard) {
    this.limits = { labelValueMaxBytes: guard.labelValueMaxBytes };
    this.finished = new CounterFamily(
      "gitlab_ci_jobs_finished_total",
      "Jobs that reached success, failed or canceled, each counted once; failure_reason as GitLab reports it for failed jobs.",
      ["project", "status", "failure_reason", "runner"],
      this.limits,
    );
    this.queuedDuration = new HistogramFamily(
      "gitlab_ci_job_queued_duration_seconds",
      "Time each job waited in the queue before a runner picked it up, observed once per job.",
      ["project"],
      QUEUED_DURATION_BUCKETS,
      this.limits,
    );
    this.duration = new HistogramFamily("gitlab_ci_job_duration_seconds", "Run time of each finished job that started.", ["project", "status"], JOB_DURATION_BUCKETS, this.limits);
  }

  /** Every family, in exposition order. */
  families(): TextFamily[] {
    return [...this.gauges, this.finished, this.queuedDuration, this.duration];
  }

  /** Declares the gauges that read live jobs; call once the store exists. */
  readFrom(jobs: JobStore, projects: ProjectRegistry): void {
    this.projects = projects;
    const gauge = (name: string, help: string, pick: (group: GroupTotals) => number | null, combine?: (a: number, b: number) => number) =>
      new ComputedGaugeFamily(name, help, ["project", "tags"], () => this.samples(jobs, projects, pick), {
        ...this.limits,
        // Rendered afresh each scrape, so the cap applies to each rendering rather than by admission.
        cap: this.guard.atScrape(name),
        ...(combine ? { combine } : {}),
      });
    this.gauges = [
      gauge("gitlab_ci_jobs_pending", "Jobs in status pending now, by project and the job's own sorted tag list.", (g) => (g.pending > 0 ? g.pending : null)),
      gauge("gitlab_ci_jobs_running", "Jobs in status running now, by project and the job's own sorted tag list.", (g) => (g.running > 0 ? g.running : null)),
      gauge(
        "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds",
        "Unix time at which the longest-waiting pending job entered the queue; absent when none is pending.",
        (g) => (g.oldestQueuedAtMs === null ? null : g.oldestQueuedAtMs / 1000),
        Math.min,
      ),
    ];
  }

  jobStarted(event: JobStarted): void {
    const project = this.projects?.pathOf(event.projectId);
    if (project === undefined) return;
    const labels = { project };
    if (this.guard.admit(this.queuedDuration, labels)) this.queuedDuration.observe(labels, event.queuedDurationSeconds);
  }

  jobFinished(event: JobFinished): void {
    const project = this.projects?.pathOf(event.projectId);
    if (project === undefined) return;
    const labels = { project, status: event.status, failure_reason: event.failureReason, runner: event.runner };
    if (this.guard.admit(this.finished, labels)) this.finished.inc(labels);
    const durationLabels = { project, status: event.status };
    if (event.durationSeconds !== null && this.guard.admit(this.duration, durationLabels)) this.duration.observe(durationLabels, event.durationSeconds);
  }

  projectRemoved(project: WatchedProject): void {
    for (const family of [this.finished, this.queuedDuration, this.duration] as const) {
      family.removeMatching({ project: project.path });
    }
  }

  private *samples(jobs: JobStore, projects: ProjectRegistry, pick: (group: GroupTotals) => number | null): Iterable<readonly [Labels<"project" | "tags">, number]> {
    for (const [projectId, byTags] of jobs.totals()) {
      const project = projects.pathOf(projectId);
      if (project === undefined) continue;
      for (const [tags, group] of byTags) {
        const value = pick(group);
        if (value !== null) yield [{ project, tags }, value];
      }
    }
  }
}
