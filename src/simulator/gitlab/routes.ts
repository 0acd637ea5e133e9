import { isFinished, type SimJobStatus, type SimPipeline, type SimProject } from "./model.js";
import { cursorKeysetPage, idKeysetPage, offsetPage, type Page } from "./pagination.js";
import { renderJob, renderPipeline, renderProject } from "./render.js";
import type { GitLabWorld } from "./world.js";

/** An answer before it hits the wire, so faults can still bend it. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly contentType: string;
  readonly body: string;
}

export type RouteName =
  | "/projects/:id"
  | "/projects/:id/jobs"
  | "/projects/:id/jobs/:job_id"
  | "/projects/:id/pipelines"
  | "/projects/:id/pipelines/:pipeline_id/jobs"
  | "/groups/:id/projects";

export interface RouteMatch {
  readonly route: RouteName;
  /** Decoded `:id`: a number or a full path. */
  readonly ref: string;
  readonly jobId?: number;
  readonly pipelineId?: number;
  /** List routes, the only ones a pagination fault applies to. */
  readonly paginated: boolean;
}

/** Matches `/api/v4/...`; ids may be URL-encoded paths (`acme%2Fplatform%2Fapi`). */
export function matchRoute(pathname: string): RouteMatch | undefined {
  const parts = pathname.split("/").filter((p) => p !== "");
  if (parts[0] !== "api" || parts[1] !== "v4") return undefined;
  const rest = parts.slice(2).map(safeDecode);
  if (rest.some((p) => p === undefined)) return undefined;
  const [resource, ref, sub, subId, leaf, ...more] = rest as string[];
  if (ref === undefined || more.length > 0) return undefined;
  if (resource === "projects" && sub === "pipelines" && subId !== undefined && /^\d+$/.test(subId) && leaf === "jobs") {
    return { route: "/projects/:id/pipelines/:pipeline_id/jobs", ref, pipelineId: Number(subId), paginated: true };
  }
  if (leaf !== undefined) return undefined;
  if (resource === "projects") {
    if (sub === undefined) return { route: "/projects/:id", ref, paginated: false };
    if (sub === "pipelines" && subId === undefined) return { route: "/projects/:id/pipelines", ref, paginated: true };
    if (sub === "jobs" && subId === undefined) return { route: "/projects/:id/jobs", ref, paginated: true };
    if (sub === "jobs" && subId !== undefined && /^\d+$/.test(subId)) return { route: "/projects/:id/jobs/:job_id", ref, jobId: Number(subId), paginated: false };
  }
  if (resource === "groups" && sub === "projects" && subId === undefined) return { route: "/groups/:id/projects", ref, paginated: true };
  return undefined;
}

/** `order_by` values the pipelines API accepts (`Ci::PipelinesFinder::ALLOWED_INDEXED_COLUMNS`). */
const PIPELINE_ORDER: Readonly<Record<string, (p: SimPipeline) => number | string>> = {
  id: (p) => p.id,
  status: (p) => p.status,
  ref: (p) => p.ref,
  updated_at: (p) => p.updatedAt,
  // Every simulated pipeline is triggered by the same user.
  user_id: () => 1,
};

const PIPELINE_SCOPES: Readonly<Record<string, (p: SimPipeline) => boolean>> = {
  running: (p) => p.status === "running",
  pending: (p) => p.status === "pending",
  finished: (p) => isFinished(p.status),
  // The simulated pipelines all run for branches.
  branches: () => true,
  tags: () => false,
};

/**
 * `scope` values the jobs APIs accept: every status of `Ci::HasStatus::AVAILABLE_STATUSES` on
 * current GitLab (`preparing`, `waiting_for_callback` and `canceling` included; the simulated
 * world never produces the last two). Anything else is a 400 from Grape.
 */
const JOB_SCOPES: ReadonlySet<string> = new Set([
  "created",
  "waiting_for_resource",
  "preparing",
  "waiting_for_callback",
  "pending",
  "running",
  "success",
  "failed",
  "canceling",
  "canceled",
  "skipped",
  "manual",
  "scheduled",
]);

const PROJECT_ORDER: Readonly<Record<string, (p: SimProject) => number | string>> = {
  id: (p) => p.id,
  name: (p) => p.name,
  path: (p) => p.path,
  created_at: (p) => p.createdAt,
  updated_at: (p) => p.lastActivityAt,
  last_activity_at: (p) => p.lastActivityAt,
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers, contentType: "application/json", body: JSON.stringify(body) };
}

const KEYSET_UNAVAILABLE = (): Reply => json(405, { error: "Keyset pagination is not yet available for this type of request" });

/** Answers one authenticated, unthrottled API request from the world. */
export function answer(world: GitLabWorld, match: RouteMatch, url: URL, now: number, loop: boolean): Reply {
  if (match.route === "/groups/:id/projects") return groupProjects(world, match.ref, url, loop);

  const project = world.project(match.ref);
  if (!project || project.access === "not_found") return json(404, { message: "404 Project Not Found" });
  if (project.access === "forbidden") return json(403, { message: "403 Forbidden" });

  switch (match.route) {
    case "/projects/:id":
      return json(200, renderProject(world, project));
    case "/projects/:id/jobs":
      return projectJobs(world, project, url, now, loop);
    case "/projects/:id/jobs/:job_id": {
      const job = world.job(match.jobId!);
      if (!job || job.projectId !== project.id) return json(404, { message: "404 Not found" });
      return json(200, renderJob(world, job, now));
    }
    case "/projects/:id/pipelines":
      return projectPipelines(world, project, url, loop);
    case "/projects/:id/pipelines/:pipeline_id/jobs":
      return pipelineJobs(world, project, match.pipelineId!, url, now, loop);
  }
}

/**
 * `GET /projects/:id/pipelines` as `Ci::PipelinesFinder` answers it: `updated_after` and
 * `updated_before` are inclusive (`UpdatedAtFilterable`: `>=`, `<=`), `order_by` one of id,
 * status, ref, updated_at, user_id (default id), `sort` asc or desc (default desc); offset
 * pagination only. Child pipelines are left out unless `source=parent_pipeline` is asked
 * (`prefiltered_pipelines`: `pipelines.no_child`, `app/finders/ci/pipelines_finder.rb`).
 */
function projectPipelines(world: GitLabWorld, project: SimProject, url: URL, loop: boolean): Reply {
  const params = url.searchParams;
  if (params.get("pagination") === "keyset") return KEYSET_UNAVAILABLE();
  const after = timeParam(params, "updated_after");
  const before = timeParam(params, "updated_before");
  if (after === "invalid") return json(400, { error: "updated_after is invalid" });
  if (before === "invalid") return json(400, { error: "updated_before is invalid" });
  const scope = params.get("scope");
  if (scope !== null && !PIPELINE_SCOPES[scope]) return json(400, { error: "scope does not have a valid value" });
  const orderBy = params.get("order_by") ?? "id";
  const sort = (params.get("sort") ?? "desc").toLowerCase();
  const key = PIPELINE_ORDER[orderBy];
  if (!key || (sort !== "asc" && sort !== "desc")) return json(400, { error: "order_by, sort does not have a valid value" });

  const status = params.get("status");
  const ref = params.get("ref");
  const sha = params.get("sha");
  const source = params.get("source");
  const pipelines = world.projectPipelines(project.id).filter(
    (p) =>
      (after === null || p.updatedAt >= after) &&
      (before === null || p.updatedAt <= before) &&
      (scope === null || PIPELINE_SCOPES[scope]!(p)) &&
      (status === null || p.status === status) &&
      (ref === null || p.ref === ref) &&
      (sha === null || p.sha === sha) &&
      (source === null || p.source === source) &&
      (source === "parent_pipeline" || p.source !== "parent_pipeline"),
  );
  sortByKeyThenId(pipelines, key, sort);
  const page = offsetPage(url, pipelines, loop);
  return json(
    200,
    page.items.map((p) => renderPipeline(world, p)),
    page.headers,
  );
}

/**
 * `GET /projects/:id/pipelines/:pipeline_id/jobs` as `Ci::JobsFinder` answers it: newest first,
 * `scope[]` filters, the latest attempt of each job unless `include_retried=true`; offset
 * pagination.
 */
function pipelineJobs(world: GitLabWorld, project: SimProject, pipelineId: number, url: URL, now: number, loop: boolean): Reply {
  const pipeline = world.pipeline(pipelineId);
  if (!pipeline || pipeline.projectId !== project.id) return json(404, { message: "404 Not found" });
  const scopes = [...url.searchParams.getAll("scope"), ...url.searchParams.getAll("scope[]")];
  if (scopes.some((s) => !JOB_SCOPES.has(s))) return json(400, { error: "scope does not have a valid value" });
  const includeRetried = url.searchParams.get("include_retried");
  if (includeRetried !== null && includeRetried !== "true" && includeRetried !== "false") return json(400, { error: "include_retried is invalid" });
  const wanted = scopes.length > 0 ? new Set(scopes) : undefined;
  const jobs = world
    .pipelineJobs(pipeline.id)
    .filter((job) => (includeRetried === "true" || !job.retried) && (!wanted || wanted.has(job.status)))
    .sort((a, b) => b.id - a.id);
  const page = offsetPage(url, jobs, loop);
  return json(
    200,
    page.items.map((job) => renderJob(world, job, now)),
    page.headers,
  );
}

/** An ISO 8601 date-time query parameter (Grape's DateTime coercion): null when absent. */
function timeParam(params: URLSearchParams, name: string): number | null | "invalid" {
  const raw = params.get(name);
  if (raw === null || raw === "") return null;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) ? ms : "invalid";
}

function projectJobs(world: GitLabWorld, project: SimProject, url: URL, now: number, loop: boolean): Reply {
  const scopes = [...url.searchParams.getAll("scope"), ...url.searchParams.getAll("scope[]")];
  if (scopes.some((s) => !JOB_SCOPES.has(s))) return json(400, { error: "scope does not have a valid value" });
  const jobs = world.projectJobs(project.id, scopes as SimJobStatus[]);
  let page: Page<(typeof jobs)[number]>;
  if (url.searchParams.get("pagination") === "keyset") {
    // Ci::Build supports keyset only as order_by=id, sort=desc (Gitlab::Pagination::CursorBasedKeyset); GitLab answers 405 otherwise.
    if ((url.searchParams.get("order_by") ?? "id") !== "id" || (url.searchParams.get("sort") ?? "desc") !== "desc") return KEYSET_UNAVAILABLE();
    page = cursorKeysetPage(url, jobs, loop);
  } else {
    page = offsetPage(url, jobs, loop);
  }
  return json(
    200,
    page.items.map((job) => renderJob(world, job, now)),
    page.headers,
  );
}

function groupProjects(world: GitLabWorld, ref: string, url: URL, loop: boolean): Reply {
  const group = world.group(ref);
  if (!group) return json(404, { message: "404 Group Not Found" });
  const params = url.searchParams;
  // with_shared (default true) changes nothing here: the simulated groups share no projects.
  let projects = world.groupProjects(group, params.get("include_subgroups") === "true");
  const archived = params.get("archived");
  if (archived === "true" || archived === "false") projects = projects.filter((p) => p.archived === (archived === "true"));
  const orderBy = params.get("order_by") ?? "created_at";
  const sort = params.get("sort") ?? "desc";
  const key = PROJECT_ORDER[orderBy];
  if (!key || (sort !== "asc" && sort !== "desc")) return json(400, { error: "order_by, sort does not have a valid value" });

  if (params.get("pagination") === "keyset") {
    // Projects page by id only (Gitlab::Pagination::Keyset); order_by defaults to created_at, so it must be given.
    if (orderBy !== "id") return KEYSET_UNAVAILABLE();
    projects.sort((a, b) => (sort === "asc" ? a.id - b.id : b.id - a.id));
    const page = idKeysetPage(url, projects, sort, loop);
    return json(
      200,
      page.items.map((p) => renderProject(world, p)),
      page.headers,
    );
  }
  sortByKeyThenId(projects, key, sort);
  const page = offsetPage(url, projects, loop);
  return json(
    200,
    page.items.map((p) => renderProject(world, p)),
    page.headers,
  );
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** GitLab's list order: by the requested key, ties broken by id, both in the requested direction. */
function sortByKeyThenId<T extends { readonly id: number }>(items: T[], key: (item: T) => string | number, sort: string | null): void {
  const direction = sort === "asc" ? 1 : -1;
  items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * direction || (a.id - b.id) * direction;
  });
}
