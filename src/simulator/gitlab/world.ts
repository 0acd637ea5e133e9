import {
  isFinished,
  type Mutable,
  type ProjectAccess,
  type ProjectVisibility,
  type SimGroup,
  type SimJob,
  type SimJobStatus,
  type SimPipeline,
  type SimPipelineStatus,
  type SimProject,
  type SimRunner,
} from "./model.js";
import { StatusTally, statusKey } from "./pipeline-status.js";
import { GITLAB_COM, type GitLabProfile } from "./profile.js";
import { fakeSha } from "./sha.js";

export type JobListener = (job: SimJob, previous: SimJobStatus | null) => void;
export type PipelineListener = (pipeline: SimPipeline, previous: SimPipelineStatus, jobs: readonly SimJob[]) => void;

export interface GitLabWorldOptions {
  /** The clock every timestamp comes from, in ms; a `ManualClock`'s `now` in tests. */
  readonly now?: () => number;
  /** The instance URL used in `web_url`s and webhook headers. */
  readonly baseUrl?: string;
  /** The GitLab version and deployment whose wire shapes to follow; current GitLab.com by default. */
  readonly profile?: GitLabProfile;
}

export interface CreateJobOptions {
  readonly name: string;
  readonly stage?: string;
  readonly ref?: string;
  readonly tags?: readonly string[];
  /** Without one, the job gets a pipeline of its own. */
  readonly pipelineId?: number;
  /** A job created as "pending" is queued at creation. */
  readonly status?: "created" | "pending";
  readonly allowFailure?: boolean;
}

/** Where a job may go from each status; finished jobs only leave through `retry`. */
const NEXT: Readonly<Record<SimJobStatus, readonly SimJobStatus[]>> = {
  created: ["waiting_for_resource", "preparing", "pending", "manual", "scheduled", "skipped", "canceled", "failed"],
  waiting_for_resource: ["preparing", "pending", "skipped", "canceled", "failed"],
  preparing: ["pending", "skipped", "canceled", "failed"],
  manual: ["pending", "skipped", "canceled"],
  scheduled: ["pending", "manual", "skipped", "canceled"],
  pending: ["running", "canceled", "failed"],
  running: ["success", "failed", "canceled"],
  success: [],
  failed: [],
  canceled: [],
  skipped: [],
};

/** What GitLab lets a user retry. */
const RETRYABLE: ReadonlySet<SimJobStatus> = new Set(["success", "failed", "canceled"]);

interface ProjectJobs {
  /** Every job id of the project, ascending (ids only grow, so appending keeps the order). */
  ids: number[];
  /** Jobs not finished yet: the listing of pending/running jobs reads only these. */
  readonly live: Set<number>;
}

/**
 * The simulated GitLab's truth: groups, projects, pipelines and jobs, changed only through
 * GitLab's job state machine. Tests read ground truth from here; the REST server and the
 * webhook sender render it.
 */
export class GitLabWorld {
  readonly baseUrl: string;
  readonly now: () => number;
  readonly profile: GitLabProfile;
  private readonly groupsByPath = new Map<string, SimGroup>();
  private readonly groupsById = new Map<number, SimGroup>();
  private readonly projectsById = new Map<number, Mutable<SimProject>>();
  private readonly projectsByPath = new Map<string, Mutable<SimProject>>();
  private readonly pipelinesById = new Map<number, Mutable<SimPipeline>>();
  private readonly pipelinesByProject = new Map<number, Set<number>>();
  private readonly pipelineJobIds = new Map<number, number[]>();
  private readonly pipelineTallies = new Map<number, StatusTally>();
  private readonly pipelineIids = new Map<number, number>();
  private readonly jobsById = new Map<number, Mutable<SimJob>>();
  private readonly jobsByProject = new Map<number, ProjectJobs>();
  /** Finished jobs in the order they ended, so pruning never scans live ones. */
  private ended: Array<{ readonly id: number; readonly at: number }> = [];
  private endedHead = 0;
  private readonly jobListeners = new Set<JobListener>();
  private readonly pipelineListeners = new Set<PipelineListener>();
  private nextGroupId = 100;
  private nextProjectId = 1000;
  private nextPipelineId = 5000;
  private nextJobId = 100_000;

  constructor(options: GitLabWorldOptions = {}) {
    this.now = options.now ?? Date.now;
    this.profile = options.profile ?? GITLAB_COM;
    this.baseUrl = (options.baseUrl ?? "https://gitlab.example.com").replace(/\/+$/, "");
  }

  // ---- groups and projects ------------------------------------------------------------------

  /** Creates the group and any missing parent; an existing group is returned as it is. */
  addGroup(fullPath: string): SimGroup {
    const clean = fullPath.replace(/^\/+|\/+$/g, "");
    if (clean === "") throw new Error("a group needs a path");
    const existing = this.groupsByPath.get(clean);
    if (existing) return existing;
    const slash = clean.lastIndexOf("/");
    const parent = slash > 0 ? this.addGroup(clean.slice(0, slash)) : null;
    const path = clean.slice(slash + 1);
    const group: SimGroup = { id: this.nextGroupId++, name: path, path, fullPath: clean, parentId: parent?.id ?? null };
    this.groupsByPath.set(clean, group);
    this.groupsById.set(group.id, group);
    return group;
  }

  /** By id, or by full path (what the API accepts URL-encoded). */
  group(idOrPath: number | string): SimGroup | undefined {
    if (typeof idOrPath === "number" || /^\d+$/.test(idOrPath)) return this.groupsById.get(Number(idOrPath));
    return this.groupsByPath.get(idOrPath);
  }

  groups(): readonly SimGroup[] {
    return [...this.groupsById.values()];
  }

  addProject(pathWithNamespace: string, options: { id?: number; archived?: boolean; visibility?: ProjectVisibility } = {}): SimProject {
    if (this.projectsByPath.has(pathWithNamespace)) throw new Error(`project ${pathWithNamespace} exists`);
    const slash = pathWithNamespace.lastIndexOf("/");
    if (slash <= 0 || slash === pathWithNamespace.length - 1) throw new Error(`project path needs a namespace and a name: ${pathWithNamespace}`);
    const id = options.id ?? this.nextProjectId++;
    if (this.projectsById.has(id)) throw new Error(`project id ${id} is taken`);
    this.nextProjectId = Math.max(this.nextProjectId, id + 1);
    const namespace = this.addGroup(pathWithNamespace.slice(0, slash));
    const path = pathWithNamespace.slice(slash + 1);
    const now = this.now();
    const project: Mutable<SimProject> = {
      id,
      name: path,
      path,
      pathWithNamespace,
      namespaceFullPath: namespace.fullPath,
      namespaceId: namespace.id,
      webUrl: `${this.baseUrl}/${pathWithNamespace}`,
      createdAt: now,
      lastActivityAt: now,
      archived: options.archived ?? false,
      access: "ok",
      visibility: options.visibility ?? "private",
    };
    this.projectsById.set(id, project);
    this.projectsByPath.set(pathWithNamespace, project);
    this.jobsByProject.set(id, { ids: [], live: new Set() });
    return project;
  }

  /** By id, or by path with namespace. */
  project(idOrPath: number | string): SimProject | undefined {
    if (typeof idOrPath === "number" || /^\d+$/.test(idOrPath)) return this.projectsById.get(Number(idOrPath));
    return this.projectsByPath.get(idOrPath);
  }

  projects(): readonly SimProject[] {
    return [...this.projectsById.values()];
  }

  /** The group's own projects, and its subgroups' when asked (GitLab's `include_subgroups`). */
  groupProjects(group: SimGroup | number | string, includeSubgroups: boolean): SimProject[] {
    const found = typeof group === "object" ? group : this.group(group);
    if (!found) return [];
    const prefix = `${found.fullPath}/`;
    const result: SimProject[] = [];
    for (const project of this.projectsById.values()) {
      const ns = project.namespaceFullPath;
      if (ns === found.fullPath || (includeSubgroups && ns.startsWith(prefix))) result.push(project);
    }
    return result;
  }

  /** A project the token may no longer read (403) or that GitLab hides (404). */
  setProjectAccess(projectId: number, access: ProjectAccess): void {
    this.requireProject(projectId).access = access;
  }

  setProjectVisibility(projectId: number, visibility: ProjectVisibility): void {
    this.requireProject(projectId).visibility = visibility;
  }

  setProjectArchived(projectId: number, archived: boolean): void {
    this.requireProject(projectId).archived = archived;
  }

  /** Deletes the project with its pipelines and jobs, silently (GitLab sends no job events then). */
  removeProject(projectId: number): void {
    const project = this.requireProject(projectId);
    this.projectsById.delete(projectId);
    this.projectsByPath.delete(project.pathWithNamespace);
    const jobs = this.jobsByProject.get(projectId);
    for (const id of jobs?.ids ?? []) {
      const job = this.jobsById.get(id);
      if (job) this.forgetPipeline(job.pipelineId);
      this.jobsById.delete(id);
    }
    this.jobsByProject.delete(projectId);
    for (const [id, pipeline] of this.pipelinesById) {
      if (pipeline.projectId === projectId) this.forgetPipeline(id);
    }
  }

  // ---- pipelines and jobs -------------------------------------------------------------------

  createPipeline(projectId: number, options: { ref?: string; source?: string; parentPipelineId?: number } = {}): SimPipeline {
    const project = this.requireProject(projectId);
    const id = this.nextPipelineId++;
    const iid = (this.pipelineIids.get(projectId) ?? 0) + 1;
    this.pipelineIids.set(projectId, iid);
    const now = this.now();
    const pipeline: Mutable<SimPipeline> = {
      id,
      iid,
      projectId,
      ref: options.ref ?? "main",
      sha: fakeSha(id),
      source: options.source ?? "push",
      parentPipelineId: options.parentPipelineId ?? null,
      createdAt: now,
      status: "created",
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
    };
    this.pipelinesById.set(id, pipeline);
    let ids = this.pipelinesByProject.get(projectId);
    if (!ids) this.pipelinesByProject.set(projectId, (ids = new Set()));
    ids.add(id);
    this.pipelineJobIds.set(id, []);
    this.pipelineTallies.set(id, new StatusTally());
    project.lastActivityAt = now;
    return pipeline;
  }

  /**
   * A child pipeline (`trigger: include:` in the parent's CI configuration): same project, the
   * parent's ref and commit, source `parent_pipeline`. GitLab lists it only through the parent's
   * `downstream` or when `source=parent_pipeline` is asked (`Ci::PipelinesFinder`).
   */
  createChildPipeline(parentPipelineId: number): SimPipeline {
    const parent = this.pipelinesById.get(parentPipelineId);
    if (!parent) throw new Error(`pipeline ${parentPipelineId} not found`);
    const child = this.createPipeline(parent.projectId, { ref: parent.ref, source: "parent_pipeline", parentPipelineId });
    (child as Mutable<SimPipeline>).sha = parent.sha;
    return child;
  }

  /** The pipelines this one triggered, oldest first (GraphQL's `Pipeline.downstream`). */
  downstreamPipelines(pipelineId: number): SimPipeline[] {
    const parent = this.pipelinesById.get(pipelineId);
    if (!parent) return [];
    return this.projectPipelines(parent.projectId)
      .filter((p) => p.parentPipelineId === pipelineId)
      .sort((a, b) => a.id - b.id);
  }

  pipeline(id: number): SimPipeline | undefined {
    return this.pipelinesById.get(id);
  }

  /** The project's pipelines, newest first. */
  projectPipelines(projectId: number): SimPipeline[] {
    const result: SimPipeline[] = [];
    for (const id of this.pipelinesByProject.get(projectId) ?? []) {
      const pipeline = this.pipelinesById.get(id);
      if (pipeline) result.push(pipeline);
    }
    return result.sort((a, b) => b.id - a.id);
  }

  /** Job ids are global and only grow, like GitLab's. */
  createJob(projectId: number, options: CreateJobOptions): SimJob {
    const project = this.requireProject(projectId);
    const pipeline = options.pipelineId !== undefined ? this.pipelinesById.get(options.pipelineId) : this.createPipeline(projectId, { ref: options.ref ?? "main" });
    if (!pipeline) throw new Error(`pipeline ${options.pipelineId} not found`);
    if (pipeline.projectId !== projectId) throw new Error(`pipeline ${pipeline.id} belongs to project ${pipeline.projectId}, not ${projectId}`);
    const now = this.now();
    const job: Mutable<SimJob> = {
      id: this.nextJobId++,
      projectId,
      pipelineId: pipeline.id,
      name: options.name,
      stage: options.stage ?? "test",
      ref: options.ref ?? pipeline.ref,
      tags: [...(options.tags ?? [])],
      allowFailure: options.allowFailure ?? false,
      status: "created",
      failureReason: null,
      createdAt: now,
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      runner: null,
      retried: false,
      retriesCount: 0,
    };
    this.jobsById.set(job.id, job);
    const index = this.jobsByProject.get(projectId)!;
    index.ids.push(job.id);
    index.live.add(job.id);
    this.pipelineJobIds.get(pipeline.id)!.push(job.id);
    this.pipelineTallies.get(pipeline.id)!.add(statusKey(job));
    project.lastActivityAt = now;
    this.changed(job, null);
    if (options.status === "pending") this.enqueue(job.id);
    return job;
  }

  /** Into the queue: created (or manual, delayed, ...) → pending. */
  enqueue(jobId: number): void {
    const job = this.requireJob(jobId);
    this.allow(job, "pending");
    job.queuedAt = this.now();
    this.move(job, "pending");
  }

  /** A runner picked the job up: pending → running. */
  start(jobId: number, runner: SimRunner): void {
    const job = this.requireJob(jobId);
    this.allow(job, "running");
    // A runner without declared tags has at least the job's; share the arrays, they are never mutated.
    job.runner = { id: runner.id, description: runner.description, tags: runner.tags ?? job.tags };
    job.startedAt = this.now();
    this.move(job, "running");
  }

  /**
   * To a final status. "success" needs a running job; "failed" needs a reason and may come
   * while the job waits (a stuck job times out); "canceled" is allowed from any active status.
   */
  finish(jobId: number, status: "success" | "failed" | "canceled", failureReason?: string): void {
    const job = this.requireJob(jobId);
    this.allow(job, status);
    if (status === "failed" && !failureReason) throw new Error(`job ${jobId}: a failed job needs a failure reason`);
    if (status !== "failed" && failureReason !== undefined) throw new Error(`job ${jobId}: a failure reason only goes with "failed"`);
    job.failureReason = status === "failed" ? failureReason! : null;
    job.finishedAt = this.now();
    this.move(job, status);
  }

  /** GitLab's other states. Nothing is timed for them; skipped jobs keep `finishedAt` null, like GitLab. */
  setStatus(jobId: number, status: "waiting_for_resource" | "preparing" | "manual" | "scheduled" | "skipped"): void {
    const job = this.requireJob(jobId);
    this.allow(job, status);
    this.move(job, status);
  }

  /** A retry is a new pending job with a new id in the same pipeline; the old one is flagged retried. */
  retry(jobId: number): SimJob {
    const old = this.requireJob(jobId);
    if (!RETRYABLE.has(old.status)) throw new Error(`job ${jobId} is ${old.status}; only success, failed or canceled jobs can be retried`);
    if (old.retried) throw new Error(`job ${jobId} was already retried`);
    // Flag first, so the pipeline's status is computed without the replaced job.
    this.pipelineTallies.get(old.pipelineId)?.remove(statusKey(old));
    old.retried = true;
    const job = this.createJob(old.projectId, {
      name: old.name,
      stage: old.stage,
      ref: old.ref,
      tags: old.tags,
      pipelineId: old.pipelineId,
      allowFailure: old.allowFailure,
    });
    (job as Mutable<SimJob>).retriesCount = old.retriesCount + 1;
    this.enqueue(job.id);
    return job;
  }

  job(id: number): SimJob | undefined {
    return this.jobsById.get(id);
  }

  /** Every job still held, in id order. */
  jobs(): readonly SimJob[] {
    return [...this.jobsById.values()];
  }

  /**
   * The project's jobs, newest first, optionally only those in `statuses`. Asking only for
   * unfinished statuses reads the live index, not the project's history.
   */
  projectJobs(projectId: number, statuses?: readonly SimJobStatus[]): SimJob[] {
    const index = this.jobsByProject.get(projectId);
    if (!index) return [];
    const wanted = statuses && statuses.length > 0 ? new Set(statuses) : undefined;
    const result: SimJob[] = [];
    if (wanted && [...wanted].every((s) => !isFinished(s))) {
      for (const id of index.live) {
        const job = this.jobsById.get(id)!;
        if (wanted.has(job.status)) result.push(job);
      }
      return result.sort((a, b) => b.id - a.id);
    }
    for (let i = index.ids.length - 1; i >= 0; i--) {
      const job = this.jobsById.get(index.ids[i]!);
      if (job && (!wanted || wanted.has(job.status))) result.push(job);
    }
    return result;
  }

  /** The pipeline's jobs in id order, retried ones included. */
  pipelineJobs(pipelineId: number): SimJob[] {
    const ids = this.pipelineJobIds.get(pipelineId) ?? [];
    const result: SimJob[] = [];
    for (const id of ids) {
      const job = this.jobsById.get(id);
      if (job) result.push(job);
    }
    return result;
  }

  /**
   * Forgets jobs that ended more than `olderThanMs` ago (and pipelines left without jobs), so a
   * benchmark can play millions of lifecycles in bounded memory. Returns how many jobs went.
   * Cost is proportional to what is pruned, not to what is kept.
   */
  pruneFinished(olderThanMs: number): number {
    const cutoff = this.now() - olderThanMs;
    const touchedProjects = new Set<number>();
    const touchedPipelines = new Set<number>();
    let removed = 0;
    while (this.endedHead < this.ended.length && this.ended[this.endedHead]!.at < cutoff) {
      const { id } = this.ended[this.endedHead++]!;
      const job = this.jobsById.get(id);
      if (!job) continue;
      this.jobsById.delete(id);
      touchedProjects.add(job.projectId);
      touchedPipelines.add(job.pipelineId);
      removed++;
    }
    if (this.endedHead > 1024 && this.endedHead * 2 > this.ended.length) {
      this.ended = this.ended.slice(this.endedHead);
      this.endedHead = 0;
    }
    for (const projectId of touchedProjects) {
      const index = this.jobsByProject.get(projectId);
      if (index) index.ids = index.ids.filter((id) => this.jobsById.has(id));
    }
    for (const pipelineId of touchedPipelines) {
      const ids = (this.pipelineJobIds.get(pipelineId) ?? []).filter((id) => this.jobsById.has(id));
      if (ids.length > 0) {
        this.pipelineJobIds.set(pipelineId, ids);
      } else {
        this.forgetPipeline(pipelineId);
      }
    }
    return removed;
  }

  /** Called after every job status change (and at creation, with `previous` null). */
  onJobChange(listener: JobListener): () => void {
    this.jobListeners.add(listener);
    return () => this.jobListeners.delete(listener);
  }

  /** Called when a pipeline's composite status changes. */
  onPipelineChange(listener: PipelineListener): () => void {
    this.pipelineListeners.add(listener);
    return () => this.pipelineListeners.delete(listener);
  }

  // ---- internals ----------------------------------------------------------------------------

  private allow(job: SimJob, to: SimJobStatus): void {
    if (!NEXT[job.status].includes(to)) throw new Error(`job ${job.id}: cannot go from ${job.status} to ${to}`);
  }

  private move(job: Mutable<SimJob>, status: SimJobStatus): void {
    const previous = job.status;
    const tally = this.pipelineTallies.get(job.pipelineId);
    tally?.remove(statusKey(job));
    job.status = status;
    tally?.add(statusKey(job));
    if (isFinished(status)) {
      this.jobsByProject.get(job.projectId)?.live.delete(job.id);
      this.ended.push({ id: job.id, at: job.finishedAt ?? this.now() });
    }
    this.changed(job, previous);
  }

  /** The pipeline follows first, so a job's listeners already see the pipeline's new status. */
  private changed(job: SimJob, previous: SimJobStatus | null): void {
    const pipeline = this.pipelinesById.get(job.pipelineId);
    let before: SimPipelineStatus | undefined;
    if (pipeline) {
      if (pipeline.startedAt === null && job.startedAt !== null) {
        pipeline.startedAt = job.startedAt;
        pipeline.updatedAt = this.now();
      }
      const status = this.pipelineTallies.get(pipeline.id)!.status();
      if (status !== pipeline.status) {
        before = pipeline.status;
        pipeline.status = status;
        // `Ci::Pipeline` sets `finished_at` on success, failed and canceled only: a skipped pipeline has none.
        pipeline.finishedAt = isFinished(status) && status !== "skipped" ? this.now() : null;
        pipeline.updatedAt = this.now();
      }
    }
    for (const listener of this.jobListeners) listener(job, previous);
    if (!pipeline || before === undefined || this.pipelineListeners.size === 0) return;
    const jobs = this.pipelineJobs(pipeline.id);
    for (const listener of this.pipelineListeners) listener(pipeline, before, jobs);
  }

  private forgetPipeline(id: number): void {
    const pipeline = this.pipelinesById.get(id);
    if (pipeline) {
      const ids = this.pipelinesByProject.get(pipeline.projectId);
      ids?.delete(id);
      if (ids?.size === 0) this.pipelinesByProject.delete(pipeline.projectId);
    }
    this.pipelinesById.delete(id);
    this.pipelineJobIds.delete(id);
    this.pipelineTallies.delete(id);
  }

  private requireJob(id: number): Mutable<SimJob> {
    const job = this.jobsById.get(id);
    if (!job) throw new Error(`job ${id} not found`);
    return job;
  }

  private requireProject(id: number): Mutable<SimProject> {
    const project = this.projectsById.get(id);
    if (!project) throw new Error(`project ${id} not found`);
    return project;
  }
}
