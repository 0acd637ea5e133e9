import type { SimJobStatus, SimProject } from "./model.js";
import { cursorKeysetPage, idKeysetPage, offsetPage, type Page } from "./pagination.js";
import { renderJob, renderProject } from "./render.js";
import type { GitLabWorld } from "./world.js";

/** An answer before it hits the wire, so faults can still bend it. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly contentType: string;
  readonly body: string;
}

export type RouteName = "/projects/:id" | "/projects/:id/jobs" | "/projects/:id/jobs/:job_id" | "/groups/:id/projects";

export interface RouteMatch {
  readonly route: RouteName;
  /** Decoded `:id`: a number or a full path. */
  readonly ref: string;
  readonly jobId?: number;
  /** List routes, the only ones a pagination fault applies to. */
  readonly paginated: boolean;
}

/** Matches `/api/v4/...`; ids may be URL-encoded paths (`acme%2Fplatform%2Fapi`). */
export function matchRoute(pathname: string): RouteMatch | undefined {
  const parts = pathname.split("/").filter((p) => p !== "");
  if (parts[0] !== "api" || parts[1] !== "v4") return undefined;
  const rest = parts.slice(2).map(safeDecode);
  if (rest.some((p) => p === undefined)) return undefined;
  const [resource, ref, sub, subId, ...more] = rest as string[];
  if (ref === undefined || more.length > 0) return undefined;
  if (resource === "projects") {
    if (sub === undefined) return { route: "/projects/:id", ref, paginated: false };
    if (sub === "jobs" && subId === undefined) return { route: "/projects/:id/jobs", ref, paginated: true };
    if (sub === "jobs" && subId !== undefined && /^\d+$/.test(subId)) return { route: "/projects/:id/jobs/:job_id", ref, jobId: Number(subId), paginated: false };
  }
  if (resource === "groups" && sub === "projects" && subId === undefined) return { route: "/groups/:id/projects", ref, paginated: true };
  return undefined;
}

/** `scope` values the jobs API accepts (doc/api/jobs.md); anything else is a 400 from Grape. */
const JOB_SCOPES: ReadonlySet<string> = new Set(["created", "pending", "running", "failed", "success", "canceled", "skipped", "waiting_for_resource", "manual"]);

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
  }
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
  const direction = sort === "asc" ? 1 : -1;
  projects.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * direction || (a.id - b.id) * direction;
  });
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
