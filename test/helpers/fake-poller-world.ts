import type { JobObservation, JobStatus } from "../../src/domain/job.js";
import type { JobReport, WatchedProject } from "../../src/domain/events.js";
import type { JobsPage, PipelinesPage, UpdatedPipelinesQuery } from "../../src/sources/gitlab/api.js";
import type { DirectoryApi } from "../../src/sources/gitlab/discovery.js";
import { newWatch, type ProjectWatch } from "../../src/sources/gitlab/poller/project-watch.js";
import type { JobApplyResult, JobSink, PollerApi, ProjectSink } from "../../src/sources/gitlab/poller/sinks.js";
import { GitLabRequestError } from "../../src/sources/gitlab/request-error.js";
import type { RestJob, RestPipeline, RestProject } from "../../src/sources/gitlab/wire.js";

const LIVE: readonly JobStatus[] = ["created", "waiting_for_resource", "preparing", "pending", "running", "canceling"];

/**
 * A GitLab that answers the poller's endpoints from memory and writes down every request, in
 * the order made, as `"<endpoint> <parameters>"`. A project listed in `refusing` answers every
 * request with that HTTP status.
 */
export class FakeGitLabApi implements PollerApi, DirectoryApi {
  readonly requests: string[] = [];
  /** What a group listing answers, and whether it fails. */
  groupMembers: RestProject[] = [];
  groupStatus: number | null = null;
  readonly refusing = new Map<number, number>();
  private readonly jobsById = new Map<number, { projectId: number; job: RestJob }>();
  private readonly pipelinesOf = new Map<number, RestPipeline[]>();
  private readonly deletedPipelines = new Set<number>();

  constructor(private readonly now: () => number = () => 0) {}

  addJob(projectId: number, id: number, status: JobStatus, pipelineId: number | null = null): void {
    const job: RestJob = { id, status, tag_list: ["docker"], pipeline: pipelineId === null ? null : { id: pipelineId } };
    this.jobsById.set(id, { projectId, job });
  }

  removeJob(id: number): void {
    this.jobsById.delete(id);
  }

  /** A pipeline last updated at `updatedAt` (ISO 8601). */
  setPipeline(projectId: number, id: number, updatedAt: string, status = "running"): void {
    const list = (this.pipelinesOf.get(projectId) ?? []).filter((p) => p.id !== id);
    list.push({ id, status, updated_at: updatedAt });
    this.pipelinesOf.set(projectId, list);
  }

  deletePipeline(id: number): void {
    this.deletedPipelines.add(id);
    for (const [projectId, list] of this.pipelinesOf) this.pipelinesOf.set(projectId, list.filter((p) => p.id !== id));
  }

  async groupProjects(group: string): Promise<RestProject[]> {
    this.requests.push(`group projects group=${group}`);
    if (this.groupStatus !== null) throw new GitLabRequestError(`GET /groups/:id/projects: HTTP ${this.groupStatus}`, this.groupStatus, "http", "/groups/:id/projects");
    return this.groupMembers;
  }

  async project(idOrPath: string | number): Promise<RestProject> {
    this.requests.push(`project ref=${idOrPath}`);
    const found = this.groupMembers.find((p) => p.id === idOrPath || p.path_with_namespace === idOrPath);
    if (!found) throw notFound("/projects/:id");
    return found;
  }

  async jobsPage(projectId: number, page: number, perPage: number): Promise<JobsPage> {
    this.answer(projectId, `jobs project=${projectId} page=${page} per_page=${perPage}`, "/projects/:id/jobs");
    const all = this.jobsOf(projectId);
    return { jobs: all.slice((page - 1) * perPage, page * perPage), hasNextPage: all.length > page * perPage, receivedAtMs: this.now() };
  }

  async liveJobs(projectId: number): Promise<JobsPage> {
    this.answer(projectId, `live jobs project=${projectId}`, "/projects/:id/jobs");
    return { jobs: this.jobsOf(projectId).filter((j) => LIVE.includes(j.status as JobStatus)), hasNextPage: false, receivedAtMs: this.now() };
  }

  async job(projectId: number, jobId: number): Promise<{ job: RestJob; receivedAtMs: number }> {
    this.answer(projectId, `job project=${projectId} id=${jobId}`, "/projects/:id/jobs/:job_id");
    const entry = this.jobsById.get(jobId);
    if (!entry || entry.projectId !== projectId) throw notFound("/projects/:id/jobs/:job_id");
    return { job: entry.job, receivedAtMs: this.now() };
  }

  async updatedPipelines(projectId: number, query: UpdatedPipelinesQuery): Promise<PipelinesPage> {
    const before = query.updatedBeforeMs === undefined ? "" : ` updated_before=${iso(query.updatedBeforeMs)}`;
    this.answer(projectId, `pipelines project=${projectId} updated_after=${iso(query.updatedAfterMs)}${before} page=${query.page} per_page=${query.perPage}`, "/projects/:id/pipelines");
    const matching = (this.pipelinesOf.get(projectId) ?? [])
      .filter((p) => Date.parse(p.updated_at) >= query.updatedAfterMs && (query.updatedBeforeMs === undefined || Date.parse(p.updated_at) <= query.updatedBeforeMs))
      .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at) || b.id - a.id);
    const start = (query.page - 1) * query.perPage;
    return { pipelines: matching.slice(start, start + query.perPage), hasNextPage: matching.length > start + query.perPage };
  }

  async pipelineJobsPage(projectId: number, pipelineId: number, page: number, perPage: number): Promise<JobsPage> {
    this.answer(projectId, `pipeline jobs project=${projectId} pipeline=${pipelineId} page=${page} per_page=${perPage}`, "/projects/:id/pipelines/:pipeline_id/jobs");
    if (this.deletedPipelines.has(pipelineId)) throw notFound("/projects/:id/pipelines/:pipeline_id/jobs");
    const all = this.jobsOf(projectId).filter((j) => (j.pipeline as { id?: number } | null | undefined)?.id === pipelineId);
    return { jobs: all.slice((page - 1) * perPage, page * perPage), hasNextPage: all.length > page * perPage, receivedAtMs: this.now() };
  }

  /** Requests made since the last call. */
  take(): string[] {
    return this.requests.splice(0);
  }

  private answer(projectId: number, request: string, endpoint: string): void {
    this.requests.push(request);
    const status = this.refusing.get(projectId);
    if (status !== undefined) throw new GitLabRequestError(`GET ${endpoint}: HTTP ${status}`, status, "http", endpoint);
  }

  private jobsOf(projectId: number): RestJob[] {
    return [...this.jobsById.values()].filter((e) => e.projectId === projectId).map((e) => e.job).sort((a, b) => b.id - a.id);
  }
}

/**
 * The job state the poller feeds, reduced to what it asks: the status of every job it tracks,
 * live or not, and every call made. `apply` answers "changed" for a new status, "needs-details"
 * for an untracked job observed without tags, "unchanged" otherwise.
 */
export class RecordingJobSink implements JobSink {
  readonly applied: Array<{ id: number; status: JobStatus; report: JobReport }> = [];
  readonly forgotten: number[] = [];
  readonly dropped: number[] = [];
  readonly statusOf = new Map<number, { projectId: number; status: JobStatus }>();

  apply(observation: JobObservation, report: JobReport): JobApplyResult {
    this.applied.push({ id: observation.id, status: observation.status, report });
    const known = this.statusOf.get(observation.id);
    if (!known && observation.tags === null) return "needs-details";
    if (known?.status === observation.status) return "unchanged";
    this.statusOf.set(observation.id, { projectId: observation.projectId, status: observation.status });
    return "changed";
  }

  liveJobIds(projectId: number): number[] {
    return [...this.statusOf].filter(([, j]) => j.projectId === projectId && LIVE.includes(j.status)).map(([id]) => id);
  }

  hasActiveJobs(projectId: number): boolean {
    return this.liveJobIds(projectId).length > 0;
  }

  isTracked(jobId: number): boolean {
    const job = this.statusOf.get(jobId);
    return job !== undefined && LIVE.includes(job.status);
  }

  forgetJob(jobId: number): void {
    this.forgotten.push(jobId);
    this.statusOf.delete(jobId);
  }

  dropProject(projectId: number): void {
    this.dropped.push(projectId);
    for (const id of this.liveJobIds(projectId)) this.statusOf.delete(id);
  }

  /** Applications since the last call, as `"<id>:<status>"`. */
  takeApplied(): string[] {
    return this.applied.splice(0).map((a) => `${a.id}:${a.status}`);
  }
}

/** The projects with series, and the calls that changed them. */
export class RecordingProjectSink implements ProjectSink {
  readonly byId = new Map<number, WatchedProject>();
  readonly calls: string[] = [];

  replaceAll(projects: readonly WatchedProject[]): void {
    this.calls.push(`replaceAll ${projects.map((p) => p.id).join(",")}`);
    this.byId.clear();
    for (const project of projects) this.byId.set(project.id, project);
  }

  add(project: WatchedProject): void {
    this.calls.push(`add ${project.id}`);
    this.byId.set(project.id, project);
  }

  removeById(id: number): void {
    this.calls.push(`remove ${id}`);
    this.byId.delete(id);
  }
}

/** A watch as a project has it after discovery, before its first visit. */
export function freshWatch(id: number, overrides: Partial<ProjectWatch> = {}): ProjectWatch {
  return { ...newWatch({ id, path: `team/svc-${id}` }), ...overrides };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function notFound(endpoint: string): GitLabRequestError {
  return new GitLabRequestError(`GET ${endpoint}: HTTP 404`, 404, "http", endpoint);
}
