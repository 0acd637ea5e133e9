import type { JobReport, PipelineFinished } from "../domain/events.js";
import { isPipelineFinal, type PipelineObservation } from "../domain/pipeline.js";
import { CountedIds } from "../lib/counted-ids.js";
import { Listeners } from "../lib/listeners.js";

/**
 * How many finished pipeline ids are remembered to make counting idempotent: far more than can
 * finish between two pipelines checks or within GitLab's webhook retry window.
 */
export const COUNTED_PIPELINES_CAPACITY = 100_000;

export interface PipelineStoreOptions {
  /**
   * Unix ms from which finishes count (the exporter's start): a pipeline reported final counts
   * only if it reached that status at or after this moment. Counts every finish when absent.
   */
  readonly countFinishedSinceMs?: number;
  readonly now?: () => number;
  /** Counted ids remembered; `COUNTED_PIPELINES_CAPACITY` when absent (tests use a few). */
  readonly countedIdsCapacity?: number;
}

/**
 * The guarantee that each pipeline is counted once, at the first final status a source told
 * (Pipeline Hooks, the pipelines check's listings, in any order, as often as they like). A
 * pipeline that moves on after a final status (a failed job retried) is not counted again.
 *
 * As for jobs (`JobStore`), only finishes under the exporter's watch count: one reported with a
 * time counts when that time is at or after `countFinishedSinceMs` and after the horizon of the
 * counted ids forgotten; one without a time counts only when the source reports the transition
 * itself (a Pipeline Hook is sent for each change of status), never from a listing.
 */
export class PipelineStore {
  private readonly counted: CountedIds;
  private sinceMs: number;
  private readonly now: () => number;
  /** A pipeline reached a final status: once per pipeline, whichever source told first. */
  readonly onFinished = new Listeners<PipelineFinished>();

  constructor(options: PipelineStoreOptions = {}) {
    this.sinceMs = options.countFinishedSinceMs ?? Number.NEGATIVE_INFINITY;
    this.now = options.now ?? Date.now;
    this.counted = new CountedIds(options.countedIdsCapacity ?? COUNTED_PIPELINES_CAPACITY, this.now);
  }

  /** Counts the finishes first seen past them from `sinceMs` on: a replica taking its shard over (`JobStore.countFrom`). */
  countFrom(sinceMs: number): void {
    this.sinceMs = sinceMs;
  }

  /** "changed" when this observation counted the pipeline, "unchanged" otherwise. */
  apply(observation: PipelineObservation, report: JobReport): "changed" | "unchanged" {
    const { id, status } = observation;
    if (!isPipelineFinal(status) || this.counted.has(id) || !this.finishedUnderWatch(observation, report)) return "unchanged";
    this.counted.add(id, observation.finishedAtMs ?? this.now());
    this.onFinished.emit({ pipelineId: id, projectId: observation.projectId, status });
    return "changed";
  }

  private finishedUnderWatch(observation: PipelineObservation, report: JobReport): boolean {
    const finishedAtMs = observation.finishedAtMs;
    if (finishedAtMs === null || !Number.isFinite(finishedAtMs)) return report === "transition";
    return finishedAtMs >= this.sinceMs && this.counted.afterHorizon(finishedAtMs);
  }
}
