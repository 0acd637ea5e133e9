import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { GitLabFaults, type Fault } from "./faults.js";
import { renderJob, renderProject } from "./render.js";
import type { GitLabWorld, SimJob, SimProject } from "./world.js";

export interface RequestRecord {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly route: string;
  readonly projectId: number | undefined;
  status: number;
}

export class RequestLog {
  readonly log: RequestRecord[] = [];

  count(filter: (record: RequestRecord) => boolean = () => true): number {
    return this.log.filter(filter).length;
  }

  clear(): void {
    this.log.length = 0;
  }
}

export interface GitLabSimulator {
  /** Base URL of the simulated GitLab (the API is under /api/v4). */
  readonly url: string;
  readonly faults: GitLabFaults;
  readonly requests: RequestLog;
  close(): Promise<void>;
}

export interface GitLabSimulatorOptions {
  readonly world: GitLabWorld;
  readonly token: string;
  readonly host?: string;
  readonly port?: number;
  /** GitLab's throttle_authenticated_api default is 2,000 requests per minute on gitlab.com. */
  readonly rateLimitPerMinute?: number;
  /** Keep the request log bounded in long runs. */
  readonly maxLoggedRequests?: number;
}

const MAX_PER_PAGE = 100;
const DEFAULT_PER_PAGE = 20;
/** GitLab omits x-total, x-total-pages and rel="last" above this many records. */
const COUNT_LIMIT = 10_000;

/**
 * A GitLab REST API server speaking the documented wire format for the endpoints the exporter
 * reads: authentication, offset and keyset pagination headers, RateLimit-* headers, 429 with
 * Retry-After, and switchable faults.
 */
export async function startGitLabSimulator(options: GitLabSimulatorOptions): Promise<GitLabSimulator> {
  const { world } = options;
  const faults = new GitLabFaults();
  const requests = new RequestLog();
  const limit = options.rateLimitPerMinute ?? 2000;
  const maxLogged = options.maxLoggedRequests ?? 200_000;
  let windowStart = 0;
  let observed = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();

  const server = createServer((request, response) => {
    try {
      handle(request, response);
    } catch (error) {
      send(response, 500, { message: "500 Internal Server Error" });
      throw error;
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  faults.onClear(() => {
    for (const response of hanging) response.destroy();
    hanging.clear();
  });

  function handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
    const path = url.pathname;
    const routeMatch = matchRoute(path);
    const record: RequestRecord = {
      at: Date.now(),
      method: request.method ?? "GET",
      path,
      query: url.searchParams,
      route: routeMatch?.route ?? "unknown",
      projectId: routeMatch?.projectRef !== undefined ? world.project(routeMatch.projectRef)?.id : undefined,
      status: 0,
    };
    if (requests.log.length >= maxLogged) requests.log.splice(0, requests.log.length - maxLogged + 1);
    requests.log.push(record);
    response.on("finish", () => undefined);
    const respond = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      send(response, status, body, headers);
    };

    if (request.headers["private-token"] !== options.token) return respond(401, { message: "401 Unauthorized" });

    const now = Date.now();
    if (now - windowStart >= 60_000) {
      windowStart = now - (now % 60_000);
      observed = 0;
    }
    observed++;
    const resetAt = Math.ceil((windowStart + 60_000) / 1000);
    const rateHeaders: Record<string, string> = {
      "ratelimit-limit": String(limit),
      "ratelimit-name": "throttle_authenticated_api",
      "ratelimit-observed": String(observed),
      "ratelimit-remaining": String(Math.max(0, limit - observed)),
      "ratelimit-reset": String(resetAt),
    };

    const fault = faults.take(path);
    if (fault && applyFault(fault, request, response, record, rateHeaders, resetAt)) return;
    if (observed > limit) {
      record.status = 429;
      return throttled(response, Math.max(1, resetAt - Math.floor(now / 1000)), rateHeaders, resetAt);
    }
    if (!routeMatch) return respond(404, { message: "404 Not Found" }, rateHeaders);

    let project: SimProject | undefined;
    if (routeMatch.projectRef !== undefined) {
      project = world.project(routeMatch.projectRef);
      if (!project || project.access === "not_found") return respond(404, { message: "404 Project Not Found" }, rateHeaders);
      if (project.access === "forbidden") return respond(403, { message: "403 Forbidden" }, rateHeaders);
    }
    const loop = fault?.kind === "pagination-loop";
    switch (routeMatch.route) {
      case "/projects/:id":
        return respond(200, renderProject(world, project!), rateHeaders);
      case "/groups/:id/projects": {
        const group = world.group(routeMatch.groupRef!);
        if (!group) return respond(404, { message: "404 Group Not Found" }, rateHeaders);
        let projects = world.groupProjects(group, url.searchParams.get("include_subgroups") === "true");
        const archived = url.searchParams.get("archived");
        if (archived !== null) projects = projects.filter((p) => p.archived === (archived === "true"));
        if (url.searchParams.get("pagination") === "keyset") {
          projects.sort((a, b) => a.id - b.id);
          const after = Number(url.searchParams.get("id_after") ?? 0);
          const perPage = perPageOf(url);
          const page = projects.filter((p) => p.id > after).slice(0, perPage + 1);
          const more = page.length > perPage;
          const items = page.slice(0, perPage);
          const headers: Record<string, string> = { ...rateHeaders };
          if (more || loop) headers.link = `<${withParams(url, { id_after: loop ? String(after || "") : String(items.at(-1)!.id) })}>; rel="next"`;
          return respond(200, items.map((p) => renderProject(world, p)), headers);
        }
        projects.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
        return respondOffset(url, projects.map((p) => renderProject(world, p)), rateHeaders, respond, loop);
      }
      case "/projects/:id/jobs": {
        const scopes = url.searchParams.getAll("scope[]").concat(url.searchParams.getAll("scope"));
        const jobs = world.projectJobs(project!.id).filter((j) => scopes.length === 0 || scopes.includes(j.status));
        if (url.searchParams.get("pagination") === "keyset") {
          if ((url.searchParams.get("order_by") ?? "id") !== "id" || (url.searchParams.get("sort") ?? "desc") !== "desc") {
            return respond(400, { error: "Keyset pagination is not yet available for this type of request" }, rateHeaders);
          }
          return respondJobsKeyset(url, jobs, rateHeaders, respond, now, loop);
        }
        return respondOffset(url, jobs.map((j) => renderJob(world, j, now)), rateHeaders, respond, loop);
      }
      case "/projects/:id/jobs/:job_id": {
        const job = world.job(routeMatch.jobId!);
        if (!job || job.projectId !== project!.id) return respond(404, { message: "404 Not found" }, rateHeaders);
        return respond(200, renderJob(world, job, now), rateHeaders);
      }
      default:
        return respond(404, { message: "404 Not Found" }, rateHeaders);
    }
  }

  function respondJobsKeyset(
    url: URL,
    jobs: SimJob[],
    headers: Record<string, string>,
    respond: (status: number, body: unknown, headers?: Record<string, string>) => void,
    now: number,
    loop: boolean,
  ): void {
    const perPage = perPageOf(url);
    const cursor = url.searchParams.get("cursor");
    const before = cursor ? decodeCursor(cursor) : Infinity;
    const page = jobs.filter((j) => j.id < before).slice(0, perPage + 1);
    const more = page.length > perPage;
    const items = page.slice(0, perPage);
    const out = { ...headers };
    if (more || loop) {
      const next = loop ? (cursor ?? encodeCursor(Infinity)) : encodeCursor(items.at(-1)!.id);
      out.link = `<${withParams(url, { cursor: next })}>; rel="next"`;
    }
    respond(200, items.map((j) => renderJob(world, j, now)), out);
  }

  function respondOffset(
    url: URL,
    items: unknown[],
    headers: Record<string, string>,
    respond: (status: number, body: unknown, headers?: Record<string, string>) => void,
    loop: boolean,
  ): void {
    const perPage = perPageOf(url);
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
    const totalPages = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const out: Record<string, string> = { ...headers, "x-page": String(page), "x-per-page": String(perPage), "x-next-page": "", "x-prev-page": "" };
    const links: string[] = [];
    if (page > 1) {
      out["x-prev-page"] = String(page - 1);
      links.push(`<${withParams(url, { page: String(page - 1), per_page: String(perPage) })}>; rel="prev"`);
    }
    if (page < totalPages || loop) {
      const next = loop ? page : page + 1;
      out["x-next-page"] = String(next);
      links.push(`<${withParams(url, { page: String(next), per_page: String(perPage) })}>; rel="next"`);
    }
    links.push(`<${withParams(url, { page: "1", per_page: String(perPage) })}>; rel="first"`);
    if (items.length <= COUNT_LIMIT) {
      out["x-total"] = String(items.length);
      out["x-total-pages"] = String(totalPages);
      links.push(`<${withParams(url, { page: String(totalPages), per_page: String(perPage) })}>; rel="last"`);
    }
    out.link = links.join(", ");
    respond(200, slice, out);
  }

  function applyFault(fault: Fault, request: IncomingMessage, response: ServerResponse, record: RequestRecord, rateHeaders: Record<string, string>, resetAt: number): boolean {
    switch (fault.kind) {
      case "status": {
        record.status = fault.status;
        if (fault.status === 503) {
          response.writeHead(503, { "content-type": "text/html; charset=utf-8" });
          response.end("<!DOCTYPE html><html><head><title>GitLab is not responding (503)</title></head><body><h1>503</h1><p>Whoops, GitLab is taking too much time to respond.</p></body></html>");
        } else {
          send(response, fault.status, { message: `${fault.status} ${fault.status === 502 ? "Bad Gateway" : "Internal Server Error"}` }, rateHeaders);
        }
        return true;
      }
      case "rate-limit":
        record.status = 429;
        throttled(response, fault.retryAfterSeconds, rateHeaders, resetAt);
        return true;
      case "reset":
        record.status = -1;
        request.socket.destroy();
        return true;
      case "hang":
        record.status = -2;
        hanging.add(response);
        response.on("close", () => hanging.delete(response));
        return true;
      case "malformed-json":
        record.status = 200;
        response.writeHead(200, { "content-type": "application/json", ...rateHeaders });
        response.end('[{"id": 1, "status": "pending", ');
        return true;
      case "truncated-json": {
        record.status = 200;
        const body = JSON.stringify([{ id: 1, status: "pending", tag_list: [] }]);
        response.writeHead(200, { "content-type": "application/json", "content-length": String(body.length + 200), ...rateHeaders });
        response.write(body.slice(0, body.length - 5));
        setTimeout(() => request.socket.destroy(), 5);
        return true;
      }
      case "html":
        record.status = 200;
        response.writeHead(200, { "content-type": "text/html; charset=utf-8", ...rateHeaders });
        response.end("<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>");
        return true;
      case "pagination-loop":
        return false;
    }
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    faults,
    requests,
    async close() {
      faults.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface RouteMatch {
  readonly route: string;
  readonly projectRef?: string;
  readonly groupRef?: string;
  readonly jobId?: number;
}

function matchRoute(path: string): RouteMatch | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  if (parts[0] !== "api" || parts[1] !== "v4") return undefined;
  const [resource, ref, sub, subId] = parts.slice(2).map((p) => decodeURIComponent(p));
  if (resource === "projects" && ref !== undefined) {
    if (sub === undefined) return { route: "/projects/:id", projectRef: ref };
    if (sub === "jobs" && subId === undefined) return { route: "/projects/:id/jobs", projectRef: ref };
    if (sub === "jobs" && subId !== undefined && /^\d+$/.test(subId)) return { route: "/projects/:id/jobs/:job_id", projectRef: ref, jobId: Number(subId) };
  }
  if (resource === "groups" && ref !== undefined && sub === "projects" && subId === undefined) return { route: "/groups/:id/projects", groupRef: ref };
  return undefined;
}

function perPageOf(url: URL): number {
  const value = Number(url.searchParams.get("per_page") ?? DEFAULT_PER_PAGE);
  return Math.min(MAX_PER_PAGE, Math.max(1, Number.isFinite(value) ? Math.floor(value) : DEFAULT_PER_PAGE));
}

function withParams(url: URL, params: Record<string, string>): string {
  const next = new URL(url.toString());
  for (const [key, value] of Object.entries(params)) next.searchParams.set(key, value);
  return next.toString();
}

function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id: String(id), _kd: "n" })).toString("base64");
}

function decodeCursor(cursor: string): number {
  try {
    const id = Number((JSON.parse(Buffer.from(cursor, "base64").toString("utf8")) as { id?: string }).id);
    return Number.isFinite(id) ? id : Infinity;
  } catch {
    return Infinity;
  }
}

function throttled(response: ServerResponse, retryAfterSeconds: number, rateHeaders: Record<string, string>, resetAt: number): void {
  response.writeHead(429, {
    ...rateHeaders,
    "ratelimit-remaining": "0",
    "ratelimit-resettime": new Date(resetAt * 1000).toUTCString(),
    "retry-after": String(retryAfterSeconds),
    "content-type": "text/plain",
  });
  response.end("Retry later\n");
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
  response.end(text);
}
