import { Gitlab } from "@gitbeaker/rest";
import type { RequesterType, ResourceOptions } from "@gitbeaker/requester-utils";
import type { z } from "zod";
import type { Secret } from "../../config/secret.js";
import { GitLabRequestError } from "./transport.js";
import { restJobSchema, restPipelineSchema, restProjectSchema, type RestJob, type RestPipeline, type RestProject } from "./wire.js";

/** Statuses a job can leave on its own; the `scope[]` values GitLab documents for them. */
export const LIVE_SCOPES = ["created", "waiting_for_resource", "pending", "running"] as const;

const PER_PAGE = 100;
/** Safety bound for lists the exporter reads whole (a group's projects, a project's live jobs). */
const MAX_PAGES = 100;

export interface JobsPage {
  readonly jobs: RestJob[];
  readonly hasNextPage: boolean;
  readonly receivedAtMs: number;
}

export interface PipelinesPage {
  readonly pipelines: RestPipeline[];
  readonly hasNextPage: boolean;
}

export interface UpdatedPipelinesQuery {
  /** GitLab time (Unix ms): pipelines updated at or after it (`updated_after` is inclusive). */
  readonly updatedAfterMs: number;
  /** GitLab time (Unix ms): and at or before it, to continue a listing cut short. */
  readonly updatedBeforeMs?: number;
  readonly page: number;
  readonly perPage: number;
}

/**
 * The handful of GitLab endpoints the exporter reads, through @gitbeaker/rest, each answer checked
 * against its schema before it goes further.
 */
export class GitLabApi {
  private readonly gitlab;

  constructor(
    url: string,
    token: Secret,
    requesterFn: (resource: ResourceOptions) => RequesterType,
    private readonly now: () => number = Date.now,
  ) {
    this.gitlab = new Gitlab({
      host: url,
      token: () => Promise.resolve(token.value()),
      requesterFn,
      // Timeouts are per request in the requester; gitbeaker's would span all pages of a list.
      queryTimeout: null,
      rateLimits: {},
    });
  }

  async project(idOrPath: string | number): Promise<RestProject> {
    const body: unknown = await this.gitlab.Projects.show(idOrPath);
    return parse(restProjectSchema, body, "/projects/:id");
  }

  async groupProjects(group: string): Promise<RestProject[]> {
    const body: unknown = await this.gitlab.Groups.allProjects(group, {
      includeSubgroups: true,
      withShared: false,
      archived: false,
      simple: true,
      perPage: PER_PAGE,
      maxPages: MAX_PAGES,
    });
    return parseList(restProjectSchema, body, "/groups/:id/projects");
  }

  /** One page of a project's jobs, newest first, any status. */
  async jobsPage(projectId: number, page: number, perPage: number): Promise<JobsPage> {
    const answer = (await this.gitlab.Jobs.all(projectId, { perPage, page, showExpanded: true })) as unknown as {
      data: unknown;
      paginationInfo: { next: number | null };
    };
    return {
      jobs: parseList(restJobSchema, answer.data, "/projects/:id/jobs"),
      hasNextPage: answer.paginationInfo.next !== null,
      receivedAtMs: this.now(),
    };
  }

  /** All of a project's jobs that can still change, through keyset pagination. */
  async liveJobs(projectId: number): Promise<JobsPage> {
    const body: unknown = await this.gitlab.Jobs.all(projectId, {
      scope: [...LIVE_SCOPES],
      pagination: "keyset",
      orderBy: "id",
      sort: "desc",
      perPage: PER_PAGE,
      maxPages: MAX_PAGES,
    } as unknown as Parameters<typeof this.gitlab.Jobs.all>[1]);
    return { jobs: parseList(restJobSchema, body, "/projects/:id/jobs"), hasNextPage: false, receivedAtMs: this.now() };
  }

  /**
   * One page of the project's pipelines updated within the query's window, most recently updated
   * first: `GET /projects/:id/pipelines?updated_after=…&order_by=updated_at&sort=desc`. When
   * nothing changed it is one request with an empty answer.
   */
  async updatedPipelines(projectId: number, query: UpdatedPipelinesQuery): Promise<PipelinesPage> {
    const answer = (await this.gitlab.Pipelines.all(projectId, {
      updatedAfter: new Date(query.updatedAfterMs).toISOString(),
      ...(query.updatedBeforeMs === undefined ? {} : { updatedBefore: new Date(query.updatedBeforeMs).toISOString() }),
      orderBy: "updated_at",
      sort: "desc",
      page: query.page,
      perPage: query.perPage,
      showExpanded: true,
    })) as unknown as { data: unknown; paginationInfo: { next: number | null } };
    return {
      pipelines: parseList(restPipelineSchema, answer.data, "/projects/:id/pipelines"),
      hasNextPage: answer.paginationInfo.next !== null,
    };
  }

  /**
   * One page of a pipeline's jobs, retried attempts included (each attempt is a job of its own),
   * newest first: `GET /projects/:id/pipelines/:pipeline_id/jobs?include_retried=true`.
   */
  async pipelineJobsPage(projectId: number, pipelineId: number, page: number, perPage: number): Promise<JobsPage> {
    const answer = (await this.gitlab.Jobs.all(projectId, {
      pipelineId,
      includeRetried: true,
      page,
      perPage,
      showExpanded: true,
    } as unknown as Parameters<typeof this.gitlab.Jobs.all>[1])) as unknown as { data: unknown; paginationInfo: { next: number | null } };
    return {
      jobs: parseList(restJobSchema, answer.data, "/projects/:id/pipelines/:pipeline_id/jobs"),
      hasNextPage: answer.paginationInfo.next !== null,
      receivedAtMs: this.now(),
    };
  }

  async job(projectId: number, jobId: number): Promise<{ job: RestJob; receivedAtMs: number }> {
    const body: unknown = await this.gitlab.Jobs.show(projectId, jobId);
    return { job: parse(restJobSchema, body, "/projects/:id/jobs/:job_id"), receivedAtMs: this.now() };
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, endpoint: string): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new GitLabRequestError(`GET ${endpoint}: unexpected response shape (${result.error.issues[0]?.message ?? "invalid"})`, 200, "protocol", endpoint);
  }
  return result.data;
}

/** Entries that do not match are dropped one by one, so one odd job does not hide the others. */
function parseList<T>(schema: z.ZodType<T>, body: unknown, endpoint: string): T[] {
  if (!Array.isArray(body)) {
    throw new GitLabRequestError(`GET ${endpoint}: expected a JSON array`, 200, "protocol", endpoint);
  }
  const items: T[] = [];
  for (const entry of body) {
    const result = schema.safeParse(entry);
    if (result.success) items.push(result.data);
  }
  return items;
}
