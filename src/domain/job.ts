/** GitLab job statuses (CommitStatus state machine), as the REST API and webhooks spell them. */
export const JOB_STATUSES = [
  "created",
  "waiting_for_resource",
  "preparing",
  "pending",
  "running",
  "canceling",
  "success",
  "failed",
  "canceled",
  "skipped",
  "manual",
  "scheduled",
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

/** The statuses counted by `gitlab_ci_jobs_finished_total`. */
export type FinishedStatus = "success" | "failed" | "canceled";

export function isJobStatus(value: string): value is JobStatus {
  return (JOB_STATUSES as readonly string[]).includes(value);
}

export function isFinished(status: JobStatus): status is FinishedStatus {
  return status === "success" || status === "failed" || status === "canceled";
}

/** Terminal: the job will never change again (a retry is a new job with a new id). */
export function isTerminal(status: JobStatus): boolean {
  return isFinished(status) || status === "skipped";
}

/**
 * Jobs waiting for a person (`manual`) or a schedule (`scheduled`) may sit for weeks. They are
 * not tracked until they move, so a dormant manual job does not keep its project hot forever.
 */
export function isDormant(status: JobStatus): boolean {
  return status === "manual" || status === "scheduled";
}

/**
 * Position in the lifecycle, so a late or re-ordered webhook delivery (GitLab gives no ordering
 * guarantee) never moves a job backwards.
 */
export function lifecycleRank(status: JobStatus): number {
  switch (status) {
    case "created":
    case "waiting_for_resource":
    case "preparing":
    case "manual":
    case "scheduled":
      return 0;
    case "pending":
      return 1;
    case "running":
      return 2;
    case "canceling":
      return 3;
    default:
      return 4;
  }
}

/** The `tags` label: the job's own tag list, sorted, comma-joined; "" when untagged. */
export function tagsLabel(tags: readonly string[]): string {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t !== ""))].sort().join(",");
}

/**
 * What a source knows about one job at one moment. `tags` is null when the source cannot know
 * them (webhook payloads carry the runner's tags, not the job's).
 */
export interface JobObservation {
  readonly id: number;
  readonly projectId: number;
  readonly status: JobStatus;
  readonly tags: string | null;
  readonly runner: string;
  /** GitLab's reason for failed jobs, "" for any other status. */
  readonly failureReason: string;
  readonly queuedDurationSeconds: number | null;
  readonly durationSeconds: number | null;
  /** Unix ms at which the job entered the queue, when known. */
  readonly queuedAtMs: number | null;
  readonly startedAtMs: number | null;
  /**
   * Unix ms at which the job reached its final status (REST `finished_at`, Job Hook
   * `build_finished_at`, Pipeline Hook `builds[].finished_at`); absent or null when unknown.
   * Decides whether a job first seen already finished finished under the exporter's watch.
   */
  readonly finishedAtMs?: number | null;
  /** The job's pipeline, when the source names it; lets a poll find a job below the watermark. */
  readonly pipelineId?: number | null;
}

/** GitLab sends `unknown_failure` (a NULL column) in hooks of jobs that did not fail. */
export function failureReasonFor(status: JobStatus, reported: string | null | undefined): string {
  if (status !== "failed") return "";
  return reported ?? "unknown_failure";
}
