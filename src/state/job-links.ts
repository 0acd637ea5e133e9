import { buildResultOfJob } from "../domain/builder.js";
import { BoundedIdSet } from "../lib/bounded-id-set.js";
import { BoundedMap } from "../lib/bounded-map.js";
import { Listeners } from "../lib/listeners.js";
import type { BuildFinished, JobFinished, PipelineNamed } from "../domain/events.js";

/** A CI job whose `build` container runs an image builder, as its pod tells. */
export interface BuildJob {
  readonly builder: string;
  readonly project: string;
}

/** What the links hear from the job state: `JobStore` is one. */
export interface JobNews {
  readonly onFinished: Listeners<JobFinished>;
  readonly onPipelineNamed: Listeners<PipelineNamed>;
}

/**
 * How many jobs each link remembers, oldest forgotten first. Far more than the CI job pods alive
 * at once, whose jobs are the only ones a link is asked about.
 */
export const JOB_LINKS_CAPACITY = 20_000;

interface JobOutcome {
  readonly result: "success" | "failure";
  readonly durationSeconds: number;
}

/**
 * What the GitLab side and the Kubernetes side learn about the same CI job, joined by job id:
 *
 * - the job's pipeline, which GitLab names and gitlab-runner's pod annotations do not, so the
 *   `pipeline_id` of a job pod's series is filled in as soon as either side has seen it;
 * - image builds in CI job pods. gitlab-runner keeps a job pod's `build` container running (its
 *   shell runs the job's script) until it deletes the pod, so the container never ends on its
 *   own and tells no build time. A job whose `build` container runs a builder image is the build:
 *   its run time and outcome are the job's, as GitLab reports them when it finishes.
 *
 * Each job's build is observed once, whichever side reports first: the pod's container ending on
 * its own, or the job finishing (before or after its pod was seen).
 */
export class JobLinks {
  private readonly pipelines = new BoundedMap<number, number>(JOB_LINKS_CAPACITY);
  private readonly buildJobs = new BoundedMap<number, BuildJob>(JOB_LINKS_CAPACITY);
  /** Finished jobs whose pod was not seen yet (the pod watch lagging or re-listing). */
  private readonly unclaimedOutcomes = new BoundedMap<number, JobOutcome>(JOB_LINKS_CAPACITY);
  private readonly timed = new BoundedIdSet(JOB_LINKS_CAPACITY);
  /** Each pipeline learned (or changed). */
  readonly onPipeline = new Listeners<PipelineNamed>();
  /** A CI job's image build ended, as the job's end tells: observed once per job. */
  readonly onBuildFinished = new Listeners<BuildFinished>();

  constructor(jobs: JobNews) {
    jobs.onPipelineNamed.add((named) => this.jobInPipeline(named.jobId, named.pipelineId));
    jobs.onFinished.add((finished) => this.jobFinished(finished));
  }

  /** GitLab named the job's pipeline. */
  jobInPipeline(jobId: number, pipelineId: number): void {
    if (this.pipelines.get(jobId) === pipelineId) return;
    this.pipelines.set(jobId, pipelineId);
    this.onPipeline.emit({ jobId, pipelineId });
  }

  pipelineOf(jobId: number): number | undefined {
    return this.pipelines.get(jobId);
  }

  /** A CI job pod whose `build` container runs a builder image was seen. */
  buildJobSeen(jobId: number, build: BuildJob): void {
    if (this.timed.has(jobId)) return;
    const outcome = this.unclaimedOutcomes.get(jobId);
    if (outcome) {
      this.unclaimedOutcomes.delete(jobId);
      this.observe(jobId, build, outcome);
      return;
    }
    this.buildJobs.set(jobId, build);
  }

  /**
   * The pod's builder container ended on its own: true when its run is to be observed, false when
   * the job's build was observed already. Either way the job's end observes nothing more.
   */
  claimForContainer(jobId: number): boolean {
    if (this.timed.has(jobId)) return false;
    this.buildJobs.delete(jobId);
    this.unclaimedOutcomes.delete(jobId);
    this.timed.add(jobId);
    return true;
  }

  /** GitLab reported the job finished (once per job: the job store counts each finish once). */
  jobFinished(event: JobFinished): void {
    if (this.timed.has(event.jobId)) return;
    const result = buildResultOfJob(event.status, event.failureReason);
    const build = this.buildJobs.get(event.jobId);
    if (result === null || event.durationSeconds === null) {
      // Nothing to tell of the build; its pod, if seen later, must not wait for this job.
      if (build) this.buildJobs.delete(event.jobId);
      this.timed.add(event.jobId);
      return;
    }
    const outcome: JobOutcome = { result, durationSeconds: event.durationSeconds };
    if (build) {
      this.buildJobs.delete(event.jobId);
      this.observe(event.jobId, build, outcome);
    } else {
      this.unclaimedOutcomes.set(event.jobId, outcome);
    }
  }

  private observe(jobId: number, build: BuildJob, outcome: JobOutcome): void {
    this.timed.add(jobId);
    this.onBuildFinished.emit({ builder: build.builder, project: build.project, result: outcome.result, durationSeconds: outcome.durationSeconds });
  }
}
