import { Groups, Jobs, Pipelines, Projects } from "@gitbeaker/rest";
import type { BaseResourceOptions, RequesterType, ResourceOptions } from "@gitbeaker/requester-utils";
import type { z } from "zod";
import type { Secret } from "../../config/secret.js";
import type { Rejections } from "../../lib/rejections.js";
import { GitLabRequestError } from "./request-error.js";
import { restJobSchema, restPipelineSchema, restProjectSchema, type RestJob, type RestPipeline, type RestProject } from "./wire.js";

/** Statuses a job can leave on its own; the `scope[]` values GitLab documents for them. */
export const LIVE_SCOPES = ["created", "waiting_for_resource", "pending", "running"] as const;

const PER_PAGE = 100;
/**
 * Pages a list the exporter reads whole may take (a group's projects, a project's live jobs):
 * 10,000 entries. More is no real GitLab but a broken or hostile one, and the read fails.
 */
export const MAX_LISTING_PAGES = 100;

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
  private readonly resourceOptions: BaseResourceOptions<false>;

  constructor(
    url: string,
    token: Secret,
    private readonly requesterFn: (resource: ResourceOptions) => RequesterType,
    private readonly rejections: Rejections,
    private readonly now: () => number = Date.now,
  ) {
    this.resourceOptions = {
      host: url,
      token: () => Promise.resolve(token.value()),
      requesterFn,
      // Timeouts are per request in the requester; gitbeaker's would span all pages of a list.
      queryTimeout: null,
      rateLimits: {},
    };
  }

  async project(idOrPath: string | number): Promise<RestProject> {
    const body: unknown = await this.calls(Projects, "/projects/:id").show(idOrPath);
    return parse(restProjectSchema, body, "/projects/:id");
  }

  async groupProjects(group: string): Promise<RestProject[]> {
    const route = "/groups/:id/projects";
    const body: unknown = await this.calls(Groups, route, MAX_LISTING_PAGES).allProjects(group, {
      includeSubgroups: true,
      withShared: false,
      archived: false,
      simple: true,
      perPage: PER_PAGE,
    });
    return this.parseList(restProjectSchema, body, route);
  }

  /** One page of a project's jobs, newest first, any status. */
  async jobsPage(projectId: number, page: number, perPage: number): Promise<JobsPage> {
    const answer = (await this.calls(Jobs, "/projects/:id/jobs").all(projectId, { perPage, page, showExpanded: true })) as unknown as {
      data: unknown;
      paginationInfo: { next: number | null };
    };
    return {
      jobs: this.parseList(restJobSchema, answer.data, "/projects/:id/jobs"),
      hasNextPage: answer.paginationInfo.next !== null,
      receivedAtMs: this.now(),
    };
  }

  /** All of a project's jobs that can still change, through keyset pagination. */
  async liveJobs(projectId: number): Promise<JobsPage> {
    const body: unknown = await this.calls(Jobs, "/projects/:id/jobs", MAX_LISTING_PAGES).all(projectId, {
      scope: [...LIVE_SCOPES],
      pagination: "keyset",
      orderBy: "id",
      sort: "desc",
      perPage: PER_PAGE,
    } as unknown as Parameters<Jobs["all"]>[1]);
    return { jobs: this.parseList(restJobSchema, body, "/projects/:id/jobs"), hasNextPage: false, receivedAtMs: this.now() };
  }

  /**
   * One page of the project's pipelines updated within the query's window, most recently updated
   * first: `GET /projects/:id/pipelines?updated_after=…&order_by=updated_at&sort=desc`. When
   * nothing changed it is one request with an empty answer.
   */
  async updatedPipelines(projectId: number, query: UpdatedPipelinesQuery): Promise<PipelinesPage> {
    const answer = (await this.calls(Pipelines, "/projects/:id/pipelines").all(projectId, {
      updatedAfter: new Date(query.updatedAfterMs).toISOString(),
      ...(query.updatedBeforeMs === undefined ? {} : { updatedBefore: new Date(query.updatedBeforeMs).toISOString() }),
      orderBy: "updated_at",
      sort: "desc",
      page: query.page,
      perPage: query.perPage,
      showExpanded: true,
    })) as unknown as { data: unknown; paginationInfo: { next: number | null } };
    return {
      pipelines: this.parseList(restPipelineSchema, answer.data, "/projects/:id/pipelines"),
      hasNextPage: answer.paginationInfo.next !== null,
    };
  }

  /**
   * One page of a pipeline's jobs, retried attempts included (each attempt is a job of its own),
   * newest first: `GET /projects/:id/pipelines/:pipeline_id/jobs?include_retried=true`.
   */
  async pipelineJobsPage(projectId: number, pipelineId: number, page: number, perPage: number): Promise<JobsPage> {
    const answer = (await this.calls(Jobs, "/projects/:id/pipelines/:pipeline_id/jobs").all(projectId, {
      pipelineId,
      includeRetried: true,
      page,
      perPage,
      showExpanded: true,
    } as unknown as Parameters<Jobs["all"]>[1])) as unknown as { data: unknown; paginationInfo: { next: number | null } };
    return {
      jobs: this.parseList(restJobSchema, answer.data, "/projects/:id/pipelines/:pipeline_id/jobs"),
      hasNextPage: answer.paginationInfo.next !== null,
      receivedAtMs: this.now(),
    };
  }

  async job(projectId: number, jobId: number): Promise<{ job: RestJob; receivedAtMs: number }> {
    const body: unknown = await this.calls(Jobs, "/projects/:id/jobs/:job_id").show(projectId, jobId);
    return { job: parse(restJobSchema, body, "/projects/:id/jobs/:job_id"), receivedAtMs: this.now() };
  }

  /**
   * A gitbeaker resource for one call, whose requester sends at most `maxPages` requests.
   * gitbeaker follows `Link: rel="next"` on its own, and its `maxPages` counts entries, not
   * pages: a next link without `per_page`, or pages shorter than asked, lift it for ever. The
   * count here is of requests sent, so no answer can lift it; a list that wants one page more
   * fails instead of being used cut short. Single pages (`page` given) are never followed.
   */
  private calls<R>(Resource: new (options: BaseResourceOptions<false>) => R, route: string, maxPages = 1): R {
    let pages = 0;
    const capped = (resource: ResourceOptions): RequesterType => {
      const requester = this.requesterFn(resource);
      return {
        ...requester,
        get: (endpoint, options) => {
          if (++pages > maxPages) return Promise.reject(this.tooManyPages(route, maxPages));
          return requester.get(endpoint, options);
        },
      };
    };
    return new Resource({ ...this.resourceOptions, requesterFn: capped });
  }

  private tooManyPages(route: string, maxPages: number): GitLabRequestError {
    this.rejections.reject("gitlab_api", "too_many_pages", { endpoint: route, maxPages });
    return new GitLabRequestError(`GET ${route}: the list goes on past ${maxPages} pages; not used`, undefined, "protocol", route);
  }

  /**
   * Entries that do not match are left out one by one, so one odd job does not hide the
   * others, and each is counted and logged: a project whose id comes as a string must not
   * vanish without a word.
   */
  private parseList<T>(schema: z.ZodType<T>, body: unknown, endpoint: string): T[] {
    if (!Array.isArray(body)) {
      throw new GitLabRequestError(`GET ${endpoint}: expected a JSON array`, 200, "protocol", endpoint);
    }
    const items: T[] = [];
    for (const entry of body) {
      const result = schema.safeParse(entry);
      if (result.success) items.push(result.data);
      else this.rejections.reject("gitlab_api", "schema", { endpoint, issue: describeIssue(result.error), id: entryId(entry) });
    }
    return items;
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, endpoint: string): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new GitLabRequestError(`GET ${endpoint}: unexpected response shape (${result.error.issues[0]?.message ?? "invalid"})`, 200, "protocol", endpoint);
  }
  return result.data;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return (path ? `${path}: ${issue.message}` : issue.message).slice(0, 200);
}

/** The entry's id as sent, cut short, to find it in GitLab; never trusted further. */
function entryId(entry: unknown): string | undefined {
  if (typeof entry !== "object" || entry === null || !("id" in entry)) return undefined;
  const id = (entry as { id: unknown }).id;
  return typeof id === "number" || typeof id === "string" ? JSON.stringify(id).slice(0, 40) : undefined;
}
