import type { JobFinished, JobReport, JobStarted, PipelineNamed } from "../domain/events.js";
import { cutLabelValue, DEFAULT_LABEL_VALUE_MAX_BYTES } from "../domain/label-value.js";
import { CountedIds } from "../lib/counted-ids.js";
import { Listeners } from "../lib/listeners.js";
import { JobGroups, type GroupTotals } from "./job-groups.js";
import {
  isDormant,
  isFinished,
  isTerminal,
  lifecycleRank,
  type JobObservation,
  type JobStatus,
} from "../domain/job.js";

/** A job that has not reached a terminal status yet. */
interface LiveJob {
  readonly id: number;
  readonly projectId: number;
  status: JobStatus;
  readonly tags: string;
  queuedAtMs: number | null;
  /** True when the wait in the queue ends under our watch, so observing it replays no history. */
  readonly queuedEligible: boolean;
  queuedObserved: boolean;
  /** When the job was first seen or last changed status (the store's clock). */
  changedAtMs: number;
}


export type ApplyResult =
  /** State or counters changed. */
  | "changed"
  /** Nothing new: a duplicate, or an older status than the one already known. */
  | "unchanged"
  /** A job we do not track yet and whose tags the observation does not carry: poll the project. */
  | "needs-details";

/**
 * How many finished job ids are remembered to make counting idempotent. Far more than can finish
 * between two polls or within GitLab's webhook retry window.
 */
export const COUNTED_IDS_CAPACITY = 100_000;

export interface JobStoreOptions {
  /**
   * Unix ms from which finishes count: a job first seen already finished is counted only if its
   * `finished_at` is at or after this moment (the exporter's start), so neither a restart nor a
   * Pipeline Hook listing a pipeline's earlier builds replays history. Counts every finish when
   * absent.
   */
  readonly countFinishedSinceMs?: number;
  readonly now?: () => number;
  /**
   * A live job's tag list is kept cut to this many bytes (`LABEL_VALUE_MAX_BYTES`), as its
   * `tags` label is: jobs whose tag lists are alike once cut are one group.
   */
  readonly labelValueMaxBytes?: number;
  /** Counted ids remembered; `COUNTED_IDS_CAPACITY` when absent (tests use a few). */
  readonly countedIdsCapacity?: number;
}

/**
 * The jobs that are live now, and the guarantee that each finished job is counted once.
 *
 * Sources call `apply` with whatever they saw, in any order and as often as they like: the same
 * observation twice changes nothing, a status never moves backwards, and a finished job is
 * counted at most once whether polling, a webhook or both reported it.
 *
 * A job tracked while live is counted when it finishes. A job first seen already finished is
 * counted only if it finished under the exporter's watch: its `finished_at` at or after
 * `countFinishedSinceMs`, and after the newest finish among the counted ids the bounded set has
 * forgotten. That second rule is the horizon of the set: the last `COUNTED_IDS_CAPACITY` counted
 * ids are remembered by id; an older counted job reported again is refused by its timestamp,
 * because it finished no later than a job that left the set. What it costs: a job first reported
 * only after 100,000 later finishes were counted (at 1,000 finishes a minute, 100 minutes late)
 * is not counted, rather than risking a count twice.
 *
 * No observation can move that horizon past the store's own clock: a finish is remembered at
 * the earlier of its `finished_at` and now, so one timestamp in year 9999 (a forged hook, a
 * GitLab clock gone wrong) cannot make every later job look older than a forgotten one.
 */
export class JobStore {
  private readonly live = new Map<number, LiveJob>();
  private readonly liveByProject = new Map<number, Set<number>>();
  /** Counted ids, each at its `finished_at`, with the horizon of those forgotten. */
  private readonly counted: CountedIds;
  private readonly groups = new JobGroups();
  private sinceMs: number;
  private readonly now: () => number;
  private readonly tagsMaxBytes: number;
  /** A job left the queue under the exporter's watch: once per job. */
  readonly onStarted = new Listeners<JobStarted>();
  /** A job reached success, failed or canceled: once per job, whichever source told first. */
  readonly onFinished = new Listeners<JobFinished>();
  /** An observation named the job's pipeline (repeats included). */
  readonly onPipelineNamed = new Listeners<PipelineNamed>();

  constructor(options: JobStoreOptions = {}) {
    this.sinceMs = options.countFinishedSinceMs ?? Number.NEGATIVE_INFINITY;
    this.now = options.now ?? Date.now;
    this.tagsMaxBytes = options.labelValueMaxBytes ?? DEFAULT_LABEL_VALUE_MAX_BYTES;
    this.counted = new CountedIds(options.countedIdsCapacity ?? COUNTED_IDS_CAPACITY, this.now);
  }

  /**
   * @param report how the source came to report it (see `JobReport`): it decides a job first seen
   *   finished without a `finished_at`, or first seen running without a `started_at`.
   */
  apply(observation: JobObservation, report: JobReport = "listing"): ApplyResult {
    const { id } = observation;
    if (observation.pipelineId != null) this.onPipelineNamed.emit({ jobId: id, pipelineId: observation.pipelineId });
    if (this.counted.has(id)) return "unchanged";
    const known = this.live.get(id);
    if (isTerminal(observation.status)) return this.applyTerminal(observation, known, report);
    if (isDormant(observation.status)) {
      if (!known) return "unchanged";
      this.forget(known);
      return "changed";
    }
    return known ? this.applyProgress(observation, known) : this.track(observation, report);
  }

  /**
   * Counts the finishes (and starts) of jobs first seen past them from `sinceMs` on: a replica
   * taking its shard over counts from its predecessor's last sign of life, not from its own
   * start. Later than the start for a standby that waited; earlier for a replica restarted in
   * its own place, which so counts what finished while it was down.
   */
  countFrom(sinceMs: number): void {
    this.sinceMs = sinceMs;
  }

  /** Ids of the project's live jobs (any non-terminal, non-dormant status). */
  liveJobIds(projectId: number): number[] {
    return [...(this.liveByProject.get(projectId) ?? [])];
  }

  hasLiveJobs(projectId: number): boolean {
    return (this.liveByProject.get(projectId)?.size ?? 0) > 0;
  }

  /**
   * Whether the project has a live job that can move on its own: any live status but `created`,
   * or a `created` job that appeared or changed within `quietMs`. Jobs left `created` behind a
   * manual gate wait for a person, sometimes for weeks, and do not make their project busy.
   */
  hasActiveJobs(projectId: number, quietMs: number): boolean {
    const ids = this.liveByProject.get(projectId);
    if (!ids) return false;
    const since = this.now() - quietMs;
    for (const id of ids) {
      const job = this.live.get(id)!;
      if (job.status !== "created" || job.changedAtMs > since) return true;
    }
    return false;
  }

  isTracked(jobId: number): boolean {
    return this.live.has(jobId);
  }

  /** Forgets a live job that GitLab no longer has (its pipeline was deleted); nothing is counted. */
  forgetJob(jobId: number): void {
    const job = this.live.get(jobId);
    if (job) this.forget(job);
  }

  /** Drops a project's live jobs, e.g. when the project was deleted or access was lost. */
  dropProject(projectId: number): void {
    for (const id of this.liveJobIds(projectId)) this.forget(this.live.get(id)!);
  }

  /** Pending and running totals per project and tag set. */
  totals(): Map<number, Map<string, GroupTotals>> {
    return this.groups.totals();
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** A terminal status: the job leaves, and a finish is counted once. */
  private applyTerminal(observation: JobObservation, known: LiveJob | undefined, report: JobReport): ApplyResult {
    if (!known && !this.finishedUnderWatch(observation, report)) return "unchanged";
    if (known) this.forget(known);
    if (!isFinished(observation.status)) return known ? "changed" : "unchanged";
    this.observeStart(observation, known?.queuedEligible ?? this.startedUnderWatch(observation, report), known);
    this.counted.add(observation.id, observation.finishedAtMs ?? this.now());
    this.onFinished.emit({
      jobId: observation.id,
      projectId: observation.projectId,
      status: observation.status,
      failureReason: observation.failureReason,
      runner: observation.runner,
      durationSeconds: observation.durationSeconds,
    });
    return "changed";
  }

  /** A live status of a tracked job: it only moves forward. */
  private applyProgress(observation: JobObservation, known: LiveJob): ApplyResult {
    if (lifecycleRank(observation.status) <= lifecycleRank(known.status)) {
      if (known.queuedAtMs === null && observation.queuedAtMs !== null && known.status === "pending") {
        this.account(known, -1);
        known.queuedAtMs = observation.queuedAtMs;
        this.account(known, +1);
        return "changed";
      }
      return "unchanged";
    }
    this.account(known, -1);
    known.status = observation.status;
    known.changedAtMs = this.now();
    if (known.queuedAtMs === null) known.queuedAtMs = observation.queuedAtMs;
    this.account(known, +1);
    this.observeStart(observation, known.queuedEligible, known);
    return "changed";
  }

  /** A live job seen for the first time; its tags are needed to group it. */
  private track(observation: JobObservation, report: JobReport): ApplyResult {
    if (observation.tags === null) return "needs-details";
    const job: LiveJob = {
      id: observation.id,
      projectId: observation.projectId,
      status: observation.status,
      tags: cutLabelValue(observation.tags, this.tagsMaxBytes),
      queuedAtMs: observation.queuedAtMs,
      queuedEligible: lifecycleRank(observation.status) < lifecycleRank("running") || this.startedUnderWatch(observation, report),
      queuedObserved: false,
      changedAtMs: this.now(),
    };
    this.live.set(job.id, job);
    this.account(job, +1);
    let ids = this.liveByProject.get(job.projectId);
    if (!ids) this.liveByProject.set(job.projectId, (ids = new Set()));
    ids.add(job.id);
    this.observeStart(observation, job.queuedEligible, job);
    return "changed";
  }

  private finishedUnderWatch(observation: JobObservation, report: JobReport): boolean {
    const finishedAtMs = observation.finishedAtMs ?? null;
    if (finishedAtMs === null || !Number.isFinite(finishedAtMs)) return report === "transition";
    return finishedAtMs >= this.sinceMs && this.counted.afterHorizon(finishedAtMs);
  }

  /** For a job first seen past the queue: did it leave the queue under our watch? */
  private startedUnderWatch(observation: JobObservation, report: JobReport): boolean {
    if (observation.startedAtMs === null) return report === "transition";
    return observation.startedAtMs >= this.sinceMs;
  }

  private observeStart(observation: JobObservation, eligible: boolean, job: LiveJob | undefined): void {
    if (job?.queuedObserved || !eligible) return;
    if (observation.startedAtMs === null || observation.queuedDurationSeconds === null) return;
    if (job) job.queuedObserved = true;
    this.onStarted.emit({ projectId: observation.projectId, queuedDurationSeconds: observation.queuedDurationSeconds });
  }

  private account(job: LiveJob, sign: 1 | -1): void {
    this.groups.account(job, sign);
  }

  private forget(job: LiveJob): void {
    this.account(job, -1);
    this.live.delete(job.id);
    const ids = this.liveByProject.get(job.projectId);
    ids?.delete(job.id);
    if (ids?.size === 0) this.liveByProject.delete(job.projectId);
  }
}
