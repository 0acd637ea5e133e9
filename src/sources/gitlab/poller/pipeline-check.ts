import type { GitLabClock } from "../clock.js";
import { GitLabRequestError } from "../request-error.js";
import { plausibleTimestamp } from "../../../domain/plausibility.js";
import type { Rejections } from "../../../lib/rejections.js";
import { observeRestPipeline } from "../pipeline-wire.js";
import type { PipelineObservationSink } from "../webhook-source.js";
import { observeRestJob, parseGitLabTime, type RestPipeline } from "../wire.js";
import type { CatchUp, ProjectWatch } from "./project-watch.js";
import type { AnswerTally, JobSink, PollerApi } from "./sinks.js";

/** Pipelines listed per page of a pipelines check (GitLab's default page size); one page, or two with a backlog, per visit. */
export const PIPELINES_PER_PAGE = 20;
/** Changed pipelines whose jobs are read per visit; the rest are read at the next visits. */
export const MAX_PIPELINE_READS = 10;
/** Pages of jobs read per changed pipeline, and their size. */
export const MAX_PIPELINE_JOB_PAGES = 3;
export const PIPELINE_JOBS_PER_PAGE = 100;
/**
 * How far back each pipelines check reaches before the previous one began, in GitLab's time: a
 * change committed late, or read from a lagging database replica, is still found. Pipelines
 * listed again unchanged are not read again, so the overlap costs no requests.
 */
export const PIPELINES_OVERLAP_MS = 30_000;

export interface PipelineCheckDeps {
  readonly api: Pick<PollerApi, "updatedPipelines" | "pipelineJobsPage">;
  readonly jobs: Pick<JobSink, "apply">;
  /** Where the pipelines listed go, each with its status; ignored when absent. */
  readonly pipelines?: PipelineObservationSink;
  /** GitLab's time, for the cursor. */
  readonly clock: Pick<GitLabClock, "atOrBefore">;
  readonly tally: AnswerTally;
  readonly now: () => number;
  /** Where implausible job fields and pipeline times are counted. */
  readonly rejections: Rejections;
}

interface PipelineToRead {
  readonly id: number;
  readonly updatedAt: string;
}

/** The pipelines one visit reads, and how many more it may queue. */
interface VisitQueue {
  readonly toRead: PipelineToRead[];
  readonly queued: Set<number>;
  reads: number;
}

/**
 * Finds what a scan of the newest jobs cannot: a manual job played or a delayed job started
 * long after its pipeline was created, whose id lies below the watermark. Asks which pipelines
 * changed since the cursor (`updated_after`) and reads the jobs of those that did.
 */
export class PipelineCheck {
  constructor(private readonly deps: PipelineCheckDeps) {}

  /** The first cursor of a project whose baseline scan started at local time `startedAtMs`. */
  initialCursorMs(startedAtMs: number): number {
    return this.deps.clock.atOrBefore(startedAtMs) - PIPELINES_OVERLAP_MS;
  }

  /**
   * Reads the jobs of the pipelines that changed since the last check, most recently changed
   * first. Costs one request when nothing changed, and at most two listings plus
   * `MAX_PIPELINE_READS × MAX_PIPELINE_JOB_PAGES` job pages. When more changed than one visit
   * reads (after an outage, or a project's first check), the rest is a backlog continued at the
   * next visits below the last pipeline handled (`updated_before`), while each visit still reads
   * the freshest changes first; the cursor moves once the backlog is done.
   */
  async check(watch: ProjectWatch): Promise<void> {
    if (watch.pipelinesSinceMs === null) return;
    const startedMs = this.deps.clock.atOrBefore(this.deps.now()) - PIPELINES_OVERLAP_MS;
    const queue: VisitQueue = { toRead: [], queued: new Set(), reads: MAX_PIPELINE_READS };

    const fresh = await this.listChanged(watch, undefined, queue);
    let catchUp: CatchUp | null;
    if (watch.catchUp === null) {
      catchUp = fresh.complete ? null : { beforeMs: fresh.oldestHandledMs ?? startedMs, seriesStartMs: startedMs };
    } else {
      const backlog = await this.listChanged(watch, watch.catchUp.beforeMs, queue);
      catchUp = backlog.complete ? null : { beforeMs: backlog.oldestHandledMs ?? watch.catchUp.beforeMs, seriesStartMs: watch.catchUp.seriesStartMs };
    }

    await this.readQueued(watch, queue.toRead);
    if (catchUp === null) this.moveCursor(watch, watch.catchUp?.seriesStartMs ?? startedMs);
    else watch.catchUp = catchUp;
  }

  /** Applies a pipeline's jobs (retried attempts included); true when any changed the state. */
  async readJobs(projectId: number, pipelineId: number, seen: Set<number>): Promise<boolean> {
    const { api, jobs, tally } = this.deps;
    let changed = false;
    for (let page = 1; page <= MAX_PIPELINE_JOB_PAGES; page++) {
      let answer;
      try {
        answer = await api.pipelineJobsPage(projectId, pipelineId, page, PIPELINE_JOBS_PER_PAGE);
      } catch (error) {
        // Deleted since it was listed: nothing left to read.
        if (error instanceof GitLabRequestError && error.status === 404 && error.endpoint.includes("pipelines")) {
          tally.answered();
          return changed;
        }
        throw error;
      }
      tally.answered();
      for (const job of answer.jobs) {
        seen.add(job.id);
        const observation = observeRestJob(job, projectId, answer.receivedAtMs, this.deps.rejections);
        changed = (observation !== null && jobs.apply(observation, "listing") === "changed") || changed;
      }
      if (!answer.hasNextPage) break;
    }
    return changed;
  }

  /**
   * One page of the pipelines changed since the cursor (and at or before `beforeMs`), newest
   * change first; queues those not read in their current state, within the visit's budget.
   * Complete when nothing is left beyond what it queued.
   */
  private async listChanged(
    watch: ProjectWatch,
    beforeMs: number | undefined,
    queue: VisitQueue,
  ): Promise<{ complete: boolean; oldestHandledMs: number | undefined }> {
    const answer = await this.deps.api.updatedPipelines(watch.project.id, {
      updatedAfterMs: watch.pipelinesSinceMs!,
      ...(beforeMs === undefined ? {} : { updatedBeforeMs: beforeMs }),
      page: 1,
      perPage: PIPELINES_PER_PAGE,
    });
    this.deps.tally.answered();
    this.observe(watch.project.id, answer.pipelines);
    let oldestHandledMs: number | undefined;
    for (const pipeline of answer.pipelines) {
      if (watch.readPipelines.get(pipeline.id) !== pipeline.updated_at && !queue.queued.has(pipeline.id)) {
        if (queue.reads === 0) return { complete: false, oldestHandledMs };
        queue.reads--;
        queue.queued.add(pipeline.id);
        queue.toRead.push({ id: pipeline.id, updatedAt: pipeline.updated_at });
      }
      oldestHandledMs = this.plausibleUpdatedAt(pipeline) ?? oldestHandledMs;
    }
    return { complete: !answer.hasNextPage, oldestHandledMs };
  }

  /** Every pipeline listed, read or not, tells its status: a final one counts (once, whoever told first). */
  private observe(projectId: number, pipelines: readonly RestPipeline[]): void {
    const sink = this.deps.pipelines;
    if (!sink) return;
    const now = this.deps.now();
    for (const pipeline of pipelines) {
      // Implausible times are counted when the pipeline is handled (`plausibleUpdatedAt`); here one only counts nothing.
      const updatedAtMs = plausibleTimestamp(parseGitLabTime(pipeline.updated_at), now).value;
      sink.apply(observeRestPipeline(pipeline, projectId, updatedAtMs), "listing");
    }
  }

  private async readQueued(watch: ProjectWatch, toRead: readonly PipelineToRead[]): Promise<void> {
    const seen = new Set<number>();
    let changed = false;
    for (const pipeline of toRead) {
      changed = (await this.readJobs(watch.project.id, pipeline.id, seen)) || changed;
      // Least recently read first out: a backlog that never ends (a project busier than its
      // visits) does not grow this for ever.
      watch.readPipelines.touch(pipeline.id, pipeline.updatedAt);
    }
    if (changed) watch.lastActivityMs = this.deps.now();
  }

  private moveCursor(watch: ProjectWatch, cursor: number): void {
    watch.pipelinesSinceMs = cursor;
    watch.catchUp = null;
    // Pipelines last updated before the new cursor are listed again only once they change.
    for (const [id, updatedAt] of watch.readPipelines) {
      const ms = parseGitLabTime(updatedAt);
      if (ms === null || ms < cursor) watch.readPipelines.delete(id);
    }
  }

  /**
   * A pipeline's `updated_at` as the backlog's bound: one dated before GitLab existed would end
   * the backlog with nothing read, one in the future would read nothing new; either is counted
   * and ignored.
   */
  private plausibleUpdatedAt(pipeline: { readonly id: number; readonly updated_at: string }): number | null {
    const checked = plausibleTimestamp(parseGitLabTime(pipeline.updated_at), this.deps.now());
    if (checked.refused) this.deps.rejections.reject("gitlab_api", checked.refused, { pipelineId: pipeline.id, field: "updated_at", value: pipeline.updated_at.slice(0, 64) });
    return checked.value;
  }
}
