/**
 * A pipeline's final statuses: `Ci::HasStatus::COMPLETED_STATUSES` in GitLab
 * (`app/models/concerns/ci/has_status.rb`). `manual` and `scheduled` stop a pipeline too, but
 * wait for a person or a schedule and move on; `canceling` moves on to `canceled`.
 */
export const PIPELINE_FINAL_STATUSES = ["success", "failed", "canceled", "skipped"] as const;

export type PipelineFinalStatus = (typeof PIPELINE_FINAL_STATUSES)[number];

export function isPipelineFinal(status: string): status is PipelineFinalStatus {
  return (PIPELINE_FINAL_STATUSES as readonly string[]).includes(status);
}

/** What a source knows about one pipeline at one moment. */
export interface PipelineObservation {
  readonly id: number;
  readonly projectId: number;
  /** As GitLab spells it; any status, final or not, a newer GitLab's included. */
  readonly status: string;
  /**
   * When it reached that status, or the latest moment it can have (a listing's `updated_at`),
   * in Unix ms; null when the source does not tell (GitLab sets no `finished_at` on a skipped
   * pipeline).
   */
  readonly finishedAtMs: number | null;
}
