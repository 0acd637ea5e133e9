import type { JobObservation } from "../../../domain/job.js";
import type { JobReport, WatchedProject } from "../../../domain/events.js";
import type { GitLabApi } from "../api.js";

/** What applying an observation did: changed the state, nothing new, or the job needs a poll for its details. */
export type JobApplyResult = "changed" | "unchanged" | "needs-details";

/** Where the poller puts the jobs it reads, and what it asks about the jobs it tracks. */
export interface JobSink {
  apply(observation: JobObservation, report: JobReport): JobApplyResult;
  /** Ids of the project's live jobs. */
  liveJobIds(projectId: number): readonly number[];
  /** Whether the project has a live job that can move on its own, or one that changed within `quietMs`. */
  hasActiveJobs(projectId: number, quietMs: number): boolean;
  isTracked(jobId: number): boolean;
  /** GitLab no longer has this job: forget it without counting it. */
  forgetJob(jobId: number): void;
  /** The project is gone or unreadable: its live jobs go. */
  dropProject(projectId: number): void;
}

/** The set of projects that have series: those discovered, less those GitLab refuses to show. */
export interface ProjectSink {
  replaceAll(projects: readonly WatchedProject[]): void;
  add(project: WatchedProject): void;
  removeById(id: number): void;
}

/** The endpoints the poller reads once projects are known. */
export type PollerApi = Pick<GitLabApi, "jobsPage" | "liveJobs" | "job" | "updatedPipelines" | "pipelineJobsPage">;

/** Counts GitLab's answers in the current accounting window. */
export interface AnswerTally {
  answered(): void;
}
