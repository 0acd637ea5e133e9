/**
 * The simulated GitLab's entities. Everything outside the world reads them as immutable;
 * only `GitLabWorld` changes them, through GitLab's state machine.
 */

export type SimJobStatus =
  | "created"
  | "waiting_for_resource"
  | "preparing"
  | "pending"
  | "running"
  | "success"
  | "failed"
  | "canceled"
  | "skipped"
  | "manual"
  | "scheduled";

/** A pipeline's status is the composite of its jobs' statuses, so it uses the same words. */
export type SimPipelineStatus = SimJobStatus;

export const FINISHED_STATUSES: ReadonlySet<SimJobStatus> = new Set(["success", "failed", "canceled", "skipped"]);

export function isFinished(status: SimJobStatus): boolean {
  return FINISHED_STATUSES.has(status);
}

export type ProjectAccess = "ok" | "forbidden" | "not_found";

/** Who may read a project without a token (GraphQL answers anonymous requests with public projects only). */
export type ProjectVisibility = "private" | "internal" | "public";

export interface SimRunner {
  readonly id: number;
  readonly description: string;
  /** The runner's own tags (a superset of the tags of the jobs it picks). */
  readonly tags?: readonly string[];
}

export interface SimGroup {
  readonly id: number;
  readonly name: string;
  readonly path: string;
  readonly fullPath: string;
  readonly parentId: number | null;
}

export interface SimProject {
  readonly id: number;
  readonly name: string;
  readonly path: string;
  readonly pathWithNamespace: string;
  readonly namespaceFullPath: string;
  readonly namespaceId: number;
  readonly webUrl: string;
  readonly createdAt: number;
  readonly lastActivityAt: number;
  readonly archived: boolean;
  readonly access: ProjectAccess;
  readonly visibility: ProjectVisibility;
}

export interface SimPipeline {
  readonly id: number;
  /** Per-project sequence number, as GitLab shows it in the UI. */
  readonly iid: number;
  readonly projectId: number;
  readonly ref: string;
  readonly sha: string;
  /** `push`, `schedule`, ...; `parent_pipeline` for a child pipeline. */
  readonly source: string;
  /** The pipeline whose trigger job created this one (a child pipeline's parent); null otherwise. */
  readonly parentPipelineId: number | null;
  readonly createdAt: number;
  readonly status: SimPipelineStatus;
  /** When its first job started; null before. */
  readonly startedAt: number | null;
  /** When it last reached success, failed or canceled; null while active and when skipped (GitLab sets none then). */
  readonly finishedAt: number | null;
  /**
   * When its row last changed: at creation and at every change of its status (or its start), as
   * GitLab's `updated_at`. A job moving inside a pipeline whose status stays the same does not
   * change it.
   */
  readonly updatedAt: number;
}

export interface SimJob {
  readonly id: number;
  readonly projectId: number;
  readonly pipelineId: number;
  readonly name: string;
  readonly stage: string;
  readonly ref: string;
  /** The job's tags, in the order the CI configuration gave them. */
  readonly tags: readonly string[];
  readonly allowFailure: boolean;
  readonly status: SimJobStatus;
  /** Only meaningful when the job failed; null otherwise. */
  readonly failureReason: string | null;
  /** Milliseconds since the epoch, from the world's clock. */
  readonly createdAt: number;
  readonly queuedAt: number | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly runner: SimRunner | null;
  /** A newer job replaced this one (GitLab's "retried" flag). */
  readonly retried: boolean;
  /** 0 for an original job, n for the n-th retry of it. */
  readonly retriesCount: number;
}

/** The world's own writable view of an entity. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
