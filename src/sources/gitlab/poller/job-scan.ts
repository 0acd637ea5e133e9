import type { JobReport } from "../../../domain/events.js";
import type { Logger } from "pino";
import { GitLabRequestError } from "../request-error.js";
import type { Rejections } from "../../../lib/rejections.js";
import { observeRestJob, type RestJob } from "../wire.js";
import type { PipelineCheck } from "./pipeline-check.js";
import type { ProjectWatch, ScanReason } from "./project-watch.js";
import type { AnswerTally, JobSink, PollerApi } from "./sinks.js";

/** Page size of a first visit: most projects are idle, so keep the answer small. */
export const BASELINE_PAGE_SIZE = 20;
export const HOT_PAGE_SIZE = 100;
/** A project that created more jobs than this between two visits is read only this far. */
export const MAX_SCAN_PAGES = 20;
/** Individual job reads allowed per project and visit to resolve jobs that left the live list. */
export const MAX_JOB_READS = 20;
/** Pipelines read per visit to place the jobs webhooks named. */
export const MAX_UNPLACED_PIPELINE_READS = 10;

export interface JobScanDeps {
  readonly api: Pick<PollerApi, "jobsPage" | "liveJobs" | "job">;
  readonly jobs: Pick<JobSink, "apply" | "liveJobIds" | "isTracked" | "forgetJob">;
  /** Sets the pipelines cursor of a first visit, and reads the pipelines of unplaced jobs. */
  readonly pipelines: Pick<PipelineCheck, "initialCursorMs" | "readJobs">;
  readonly tally: AnswerTally;
  /** GitLab answered for this project (an unreadable one is watched again before its jobs apply). */
  readonly answered: (watch: ProjectWatch) => void;
  readonly log: Logger;
  readonly now: () => number;
  /** Where implausible job fields are counted. */
  readonly rejections: Rejections;
}

/** What the scan of the newest jobs read. */
interface NewestJobs {
  readonly seen: Set<number>;
  readonly highest: number;
  /** It reached the watermark or the oldest job. */
  readonly complete: boolean;
  readonly foundNew: boolean;
}

/**
 * Reads a project's newest jobs down to the watermark (usually one page). Tracked jobs the scan
 * did not reach are resolved with one list of live jobs, and so are all live jobs at a first
 * visit that did not read the whole history (an old job can still be pending behind newer
 * finished ones) and after a 403/404. Jobs a webhook could not place are looked up in their
 * pipelines.
 */
export class JobScan {
  constructor(private readonly deps: JobScanDeps) {}

  async scan(watch: ProjectWatch, reason: ScanReason): Promise<void> {
    const { jobs, log, pipelines } = this.deps;
    const projectId = watch.project.id;
    const previous = watch.watermark;
    const startedAt = this.deps.now();
    const newest = await this.readNewest(watch);
    if (!newest.complete && previous !== null) {
      log.warn({ project: watch.project.path, pages: MAX_SCAN_PAGES }, "more new jobs than one poll reads; older new jobs are found by the pipelines check");
    }
    watch.watermark = newest.highest;
    if (watch.pipelinesSinceMs === null) watch.pipelinesSinceMs = pipelines.initialCursorMs(startedAt);
    if (newest.foundNew) watch.lastActivityMs = this.deps.now();

    const { seen } = newest;
    const unresolved = jobs.liveJobIds(projectId).some((id) => !seen.has(id));
    const mayMissLive = (reason === "baseline" && !newest.complete) || reason === "resync";
    if (unresolved || mayMissLive) await this.resolveOlderLiveJobs(projectId, seen);
    await this.placeUnplaced(watch, seen);
  }

  /** Pages of the newest jobs down to the watermark; a first visit reads the newest page only. */
  private async readNewest(watch: ProjectWatch): Promise<NewestJobs> {
    const projectId = watch.project.id;
    const previous = watch.watermark;
    const perPage = previous === null ? BASELINE_PAGE_SIZE : HOT_PAGE_SIZE;
    const seen = new Set<number>();
    let highest = previous ?? 0;
    let complete = false;
    let foundNew = false;
    for (let page = 1; page <= MAX_SCAN_PAGES; page++) {
      const answer = await this.deps.api.jobsPage(projectId, page, perPage);
      this.deps.tally.answered();
      this.deps.answered(watch);
      let reachedWatermark = false;
      // The whole page is applied, also below the watermark: it updates tracked jobs for free.
      for (const job of answer.jobs) {
        seen.add(job.id);
        highest = Math.max(highest, job.id);
        const isNew = previous !== null && job.id > previous;
        foundNew ||= isNew;
        reachedWatermark ||= previous !== null && job.id <= previous;
        this.apply(job, projectId, answer.receivedAtMs, isNew ? "transition" : "listing");
      }
      // The first visit sets the baseline from the newest page only: older jobs are history.
      if (reachedWatermark || !answer.hasNextPage || previous === null) {
        complete = reachedWatermark || !answer.hasNextPage;
        break;
      }
    }
    return { seen, highest, complete, foundNew };
  }

  /** Live jobs older than what the scan read: one keyset list, then single reads for the rest. */
  private async resolveOlderLiveJobs(projectId: number, seen: Set<number>): Promise<void> {
    const { api, jobs, tally } = this.deps;
    const live = await api.liveJobs(projectId);
    tally.answered();
    for (const job of live.jobs) {
      seen.add(job.id);
      this.apply(job, projectId, live.receivedAtMs, "listing");
    }
    const left = jobs.liveJobIds(projectId).filter((id) => !seen.has(id));
    for (const jobId of left.slice(0, MAX_JOB_READS)) {
      try {
        const { job, receivedAtMs } = await api.job(projectId, jobId);
        tally.answered();
        seen.add(job.id);
        this.apply(job, projectId, receivedAtMs, "listing");
      } catch (error) {
        if (error instanceof GitLabRequestError && error.status === 404) {
          tally.answered();
          jobs.forgetJob(jobId);
          continue;
        }
        throw error;
      }
    }
  }

  /** Webhook jobs the scan did not reach (played manual jobs, retries of old jobs): read their pipelines. */
  private async placeUnplaced(watch: ProjectWatch, seen: Set<number>): Promise<void> {
    if (watch.unplaced.size === 0) return;
    const projectId = watch.project.id;
    const pipelines = new Set<number>();
    let withoutPipeline = false;
    for (const [jobId, pipelineId] of watch.unplaced) {
      if (seen.has(jobId) || this.deps.jobs.isTracked(jobId)) continue;
      if (pipelineId === null) withoutPipeline = true;
      else pipelines.add(pipelineId);
    }
    watch.unplaced.clear();
    for (const pipelineId of [...pipelines].slice(0, MAX_UNPLACED_PIPELINE_READS)) await this.deps.pipelines.readJobs(projectId, pipelineId, seen);
    if (withoutPipeline) await this.resolveOlderLiveJobs(projectId, seen);
  }

  private apply(job: RestJob, projectId: number, receivedAtMs: number, report: JobReport): void {
    const observation = observeRestJob(job, projectId, receivedAtMs, this.deps.rejections);
    if (observation) this.deps.jobs.apply(observation, report);
  }
}
