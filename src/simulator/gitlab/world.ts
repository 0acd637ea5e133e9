/**
 * The simulated GitLab's truth: groups, projects, pipelines and jobs, with GitLab's job state
 * machine. Tests read ground truth from here; the REST server and the webhook sender render it.
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

export interface SimRunner {
  readonly id: number;
  readonly description: string;
  readonly tags?: readonly string[];
}

export interface SimGroup {
  readonly id: number;
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
  archived: boolean;
  access: "ok" | "forbidden" | "not_found";
}

export interface SimPipeline {
  readonly id: number;
  readonly iid: number;
  readonly projectId: number;
  readonly ref: string;
  readonly sha: string;
  readonly source: string;
  readonly createdAt: number;
  status: string;
}

export interface SimJob {
  readonly id: number;
  readonly projectId: number;
  readonly pipelineId: number;
  readonly name: string;
  readonly stage: string;
  readonly ref: string;
  readonly tags: readonly string[];
  readonly allowFailure: boolean;
  readonly createdAt: number;
  status: SimJobStatus;
  failureReason: string | null;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  runner: SimRunner | null;
  retried: boolean;
  retriesCount: number;
}

export type JobListener = (job: SimJob, previous: SimJobStatus | null) => void;
export type PipelineListener = (pipeline: SimPipeline, jobs: readonly SimJob[]) => void;

const FINISHED: ReadonlySet<SimJobStatus> = new Set(["success", "failed", "canceled", "skipped"]);

export class GitLabWorld {
  readonly baseUrl: string;
  readonly now: () => number;
  private readonly groupsByPath = new Map<string, SimGroup>();
  private readonly projectsById = new Map<number, SimProject>();
  private readonly projectsByPath = new Map<string, SimProject>();
  private readonly pipelinesById = new Map<number, SimPipeline>();
  private readonly jobsById = new Map<number, SimJob>();
  /** Per project, job ids in creation order (ascending), so listing never scans all jobs. */
  private readonly jobIdsByProject = new Map<number, number[]>();
  private readonly jobListeners = new Set<JobListener>();
  private readonly pipelineListeners = new Set<PipelineListener>();
  private nextGroupId = 100;
  private nextProjectId = 1000;
  private nextPipelineId = 5000;
  private nextJobId = 100_000;

  constructor(options: { now?: () => number; baseUrl?: string } = {}) {
    this.now = options.now ?? Date.now;
    this.baseUrl = (options.baseUrl ?? "https://gitlab.example.com").replace(/\/+$/, "");
  }

  addGroup(fullPath: string): SimGroup {
    const existing = this.groupsByPath.get(fullPath);
    if (existing) return existing;
    const slash = fullPath.lastIndexOf("/");
    const parent = slash > 0 ? this.addGroup(fullPath.slice(0, slash)) : null;
    const group: SimGroup = { id: this.nextGroupId++, fullPath, parentId: parent?.id ?? null };
    this.groupsByPath.set(fullPath, group);
    return group;
  }

  group(idOrPath: number | string): SimGroup | undefined {
    if (typeof idOrPath === "string" && !/^\d+$/.test(idOrPath)) return this.groupsByPath.get(idOrPath);
    const id = Number(idOrPath);
    for (const group of this.groupsByPath.values()) if (group.id === id) return group;
    return undefined;
  }

  groups(): SimGroup[] {
    return [...this.groupsByPath.values()];
  }

  addProject(pathWithNamespace: string, options: { id?: number; archived?: boolean } = {}): SimProject {
    if (this.projectsByPath.has(pathWithNamespace)) throw new Error(`project ${pathWithNamespace} exists`);
    const slash = pathWithNamespace.lastIndexOf("/");
    if (slash <= 0) throw new Error(`project path needs a namespace: ${pathWithNamespace}`);
    const namespace = this.addGroup(pathWithNamespace.slice(0, slash));
    const path = pathWithNamespace.slice(slash + 1);
    const id = options.id ?? this.nextProjectId++;
    const project: SimProject = {
      id,
      name: path,
      path,
      pathWithNamespace,
      namespaceFullPath: namespace.fullPath,
      namespaceId: namespace.id,
      webUrl: `${this.baseUrl}/${pathWithNamespace}`,
      createdAt: this.now(),
      archived: options.archived ?? false,
      access: "ok",
    };
    this.projectsById.set(id, project);
    this.projectsByPath.set(pathWithNamespace, project);
    this.jobIdsByProject.set(id, []);
    return project;
  }

  project(idOrPath: number | string): SimProject | undefined {
    if (typeof idOrPath === "number" || /^\d+$/.test(idOrPath)) return this.projectsById.get(Number(idOrPath));
    return this.projectsByPath.get(idOrPath);
  }

  projects(): SimProject[] {
    return [...this.projectsById.values()];
  }

  /** Projects in the group, and in its subgroups when asked. */
  groupProjects(group: SimGroup, includeSubgroups: boolean): SimProject[] {
    return this.projects().filter((p) =>
      includeSubgroups ? p.namespaceFullPath === group.fullPath || p.namespaceFullPath.startsWith(`${group.fullPath}/`) : p.namespaceFullPath === group.fullPath,
    );
  }

  setProjectAccess(projectId: number, access: SimProject["access"]): void {
    this.requireProject(projectId).access = access;
  }

  removeProject(projectId: number): void {
    const project = this.requireProject(projectId);
    this.projectsById.delete(projectId);
    this.projectsByPath.delete(project.pathWithNamespace);
    for (const id of this.jobIdsByProject.get(projectId) ?? []) this.jobsById.delete(id);
    this.jobIdsByProject.delete(projectId);
  }

  createPipeline(projectId: number, options: { ref?: string; source?: string } = {}): SimPipeline {
    this.requireProject(projectId);
    const id = this.nextPipelineId++;
    const pipeline: SimPipeline = {
      id,
      iid: id - 4999,
      projectId,
      ref: options.ref ?? "main",
      sha: fakeSha(id),
      source: options.source ?? "push",
      createdAt: this.now(),
      status: "created",
    };
    this.pipelinesById.set(id, pipeline);
    return pipeline;
  }

  pipeline(id: number): SimPipeline | undefined {
    return this.pipelinesById.get(id);
  }

  createJob(
    projectId: number,
    options: { name: string; stage?: string; ref?: string; tags?: readonly string[]; pipelineId?: number; status?: "created" | "pending"; allowFailure?: boolean },
  ): SimJob {
    this.requireProject(projectId);
    const pipeline = options.pipelineId !== undefined ? this.pipelinesById.get(options.pipelineId) : this.createPipeline(projectId, { ref: options.ref ?? "main" });
    if (!pipeline) throw new Error(`pipeline ${options.pipelineId} not found`);
    const now = this.now();
    const job: SimJob = {
      id: this.nextJobId++,
      projectId,
      pipelineId: pipeline.id,
      name: options.name,
      stage: options.stage ?? "test",
      ref: options.ref ?? pipeline.ref,
      tags: [...(options.tags ?? [])],
      allowFailure: options.allowFailure ?? false,
      createdAt: now,
      status: "created",
      failureReason: null,
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      runner: null,
      retried: false,
      retriesCount: 0,
    };
    this.jobsById.set(job.id, job);
    this.jobIdsByProject.get(projectId)!.push(job.id);
    this.emit(job, null);
    if (options.status === "pending") this.enqueue(job.id);
    return job;
  }

  enqueue(jobId: number): void {
    const job = this.requireJob(jobId);
    this.expect(job, ["created", "waiting_for_resource", "preparing", "manual", "scheduled"], "pending");
    job.queuedAt = this.now();
    this.transition(job, "pending");
  }

  start(jobId: number, runner: SimRunner): void {
    const job = this.requireJob(jobId);
    this.expect(job, ["pending"], "running");
    job.runner = runner;
    job.startedAt = this.now();
    this.transition(job, "running");
  }

  finish(jobId: number, status: "success" | "failed" | "canceled", failureReason?: string): void {
    const job = this.requireJob(jobId);
    const from: SimJobStatus[] = status === "canceled" ? ["created", "waiting_for_resource", "preparing", "pending", "running", "manual", "scheduled"] : ["running"];
    if (status === "failed" && job.status === "pending") from.push("pending");
    this.expect(job, from, status);
    if (status === "failed" && !failureReason) throw new Error("a failed job needs a failure reason");
    job.failureReason = status === "failed" ? failureReason! : null;
    job.finishedAt = this.now();
    this.transition(job, status);
  }

  /** Other states GitLab has; no timestamps move. */
  setStatus(jobId: number, status: "waiting_for_resource" | "preparing" | "manual" | "scheduled" | "skipped"): void {
    const job = this.requireJob(jobId);
    this.expect(job, ["created", "waiting_for_resource", "preparing", "manual", "scheduled"], status);
    if (status === "skipped") job.finishedAt = this.now();
    this.transition(job, status);
  }

  /** A retry is a new job with a new id; the old one is marked retried. */
  retry(jobId: number): SimJob {
    const old = this.requireJob(jobId);
    if (!FINISHED.has(old.status)) throw new Error(`job ${jobId} is ${old.status}; only finished jobs can be retried`);
    old.retried = true;
    const job = this.createJob(old.projectId, { name: old.name, stage: old.stage, ref: old.ref, tags: old.tags, pipelineId: old.pipelineId, allowFailure: old.allowFailure });
    job.retriesCount = old.retriesCount + 1;
    this.enqueue(job.id);
    return job;
  }

  job(id: number): SimJob | undefined {
    return this.jobsById.get(id);
  }

  jobs(): SimJob[] {
    return [...this.jobsById.values()];
  }

  /** The project's jobs, newest first. */
  projectJobs(projectId: number): SimJob[] {
    const ids = this.jobIdsByProject.get(projectId) ?? [];
    const result: SimJob[] = [];
    for (let i = ids.length - 1; i >= 0; i--) {
      const job = this.jobsById.get(ids[i]!);
      if (job) result.push(job);
    }
    return result;
  }

  pipelineJobs(pipelineId: number): SimJob[] {
    const pipeline = this.pipelinesById.get(pipelineId);
    if (!pipeline) return [];
    return this.projectJobs(pipeline.projectId).filter((j) => j.pipelineId === pipelineId);
  }

  /** Drops finished jobs older than the horizon, so long runs stay within memory. */
  pruneFinished(olderThanMs: number): number {
    const cutoff = this.now() - olderThanMs;
    let removed = 0;
    for (const [projectId, ids] of this.jobIdsByProject) {
      const kept = ids.filter((id) => {
        const job = this.jobsById.get(id);
        const drop = !job || (FINISHED.has(job.status) && (job.finishedAt ?? 0) < cutoff);
        if (drop && job) {
          this.jobsById.delete(id);
          removed++;
        }
        return !drop;
      });
      this.jobIdsByProject.set(projectId, kept);
    }
    const livePipelines = new Set([...this.jobsById.values()].map((j) => j.pipelineId));
    for (const id of this.pipelinesById.keys()) if (!livePipelines.has(id)) this.pipelinesById.delete(id);
    return removed;
  }

  onJobChange(listener: JobListener): () => void {
    this.jobListeners.add(listener);
    return () => this.jobListeners.delete(listener);
  }

  onPipelineChange(listener: PipelineListener): () => void {
    this.pipelineListeners.add(listener);
    return () => this.pipelineListeners.delete(listener);
  }

  private transition(job: SimJob, status: SimJobStatus): void {
    const previous = job.status;
    job.status = status;
    this.emit(job, previous);
  }

  private emit(job: SimJob, previous: SimJobStatus | null): void {
    for (const listener of this.jobListeners) listener(job, previous);
    const pipeline = this.pipelinesById.get(job.pipelineId);
    if (!pipeline) return;
    const status = pipelineStatus(this.pipelineJobs(pipeline.id));
    if (status !== pipeline.status) {
      pipeline.status = status;
      const jobs = this.pipelineJobs(pipeline.id);
      for (const listener of this.pipelineListeners) listener(pipeline, jobs);
    }
  }

  private expect(job: SimJob, from: readonly SimJobStatus[], to: SimJobStatus): void {
    if (!from.includes(job.status)) throw new Error(`job ${job.id}: cannot go from ${job.status} to ${to}`);
  }

  private requireJob(id: number): SimJob {
    const job = this.jobsById.get(id);
    if (!job) throw new Error(`job ${id} not found`);
    return job;
  }

  private requireProject(id: number): SimProject {
    const project = this.projectsById.get(id);
    if (!project) throw new Error(`project ${id} not found`);
    return project;
  }
}

/** GitLab's composite pipeline status, simplified to the cases the scenarios produce. */
function pipelineStatus(jobs: readonly SimJob[]): string {
  const statuses = new Set(jobs.filter((j) => !j.retried).map((j) => j.status));
  if (statuses.has("running")) return "running";
  if (statuses.has("pending")) return "pending";
  if (statuses.has("created") || statuses.has("waiting_for_resource") || statuses.has("preparing")) return statuses.size === 1 ? "created" : "running";
  if (jobs.some((j) => !j.retried && j.status === "failed" && !j.allowFailure)) return "failed";
  if (statuses.has("canceled")) return "canceled";
  if (statuses.has("success")) return "success";
  if (statuses.has("manual")) return "manual";
  return "skipped";
}

export function fakeSha(seed: number): string {
  let hex = "";
  let x = seed * 2654435761;
  while (hex.length < 40) {
    x = (x * 1103515245 + 12345) % 2147483648;
    hex += x.toString(16).padStart(8, "0");
  }
  return hex.slice(0, 40);
}
