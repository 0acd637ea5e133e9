import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { GitLabFaults, type Fault } from "./faults.js";
import { answerGraphql, graphqlToken, type GraphqlMode } from "./graphql-endpoint.js";
import { projectJobsRateLimit } from "./profile.js";
import { FixedWindowRateLimiter, type RateLimitState } from "./rate-limit.js";
import { projectJobsThrottled, rateLimitHeaders, throttled } from "./throttle-replies.js";
import { RequestLog, type RequestRecord } from "./request-log.js";
import { answer, json, matchRoute, type Reply } from "./routes.js";
import type { GitLabWorld } from "./world.js";

export interface GitLabSimulator {
  /** Base URL of the simulated GitLab, without `/api/v4`. */
  readonly url: string;
  readonly faults: GitLabFaults;
  readonly requests: RequestLog;
  /** `POST /api/graphql`: on, off (404) or refused (403), for fallback tests; `enabled` by default. */
  graphql: GraphqlMode;
  close(): Promise<void>;
}

export interface GitLabSimulatorOptions {
  readonly world: GitLabWorld;
  /** The one valid user `PRIVATE-TOKEN`. */
  readonly token: string;
  /** An administrator's token: GraphQL `Query.jobs` lists every job for it, and its complexity limit is 300. */
  readonly adminToken?: string;
  /** GraphQL on (default), off (404) or refused (403); `sim.graphql` changes it later. */
  readonly graphql?: GraphqlMode;
  readonly host?: string;
  readonly port?: number;
  /** GitLab.com's throttle_authenticated_api allows 2,000 requests a minute. */
  readonly rateLimitPerMinute?: number;
  /**
   * Wall-clock ms at which a rate-limit window begins (windows follow every minute before and
   * after it). GitLab starts them on the minute, the default; a test that must not see the quota
   * reset halfway starts one when it starts.
   */
  readonly rateLimitWindowStart?: number;
  /**
   * `GET /projects/:id/jobs`'s own limit per user and minute (`project_jobs_api_rate_limit`):
   * the profile's by default (600 from GitLab 16.5, none before); `false` lifts it, for tests
   * that compress minutes into seconds.
   */
  readonly projectJobsRateLimitPerMinute?: number | false;
  /** Wall clock for rate-limit windows and the request log; real time unless a test injects one. */
  readonly wallClock?: () => number;
  /** Keep the request log bounded in long runs. */
  readonly maxLoggedRequests?: number;
}

/**
 * A GitLab REST API over plain node:http, speaking the documented wire format for the endpoints
 * the exporter reads: PRIVATE-TOKEN authentication, offset and keyset pagination headers,
 * Rack::Attack's 429 + Retry-After (RateLimit-* headers as the profile sends them), the project
 * jobs endpoint's own 429 without either, and switchable faults. Job timestamps and
 * durations come from the world's clock.
 */
export async function startGitLabSimulator(options: GitLabSimulatorOptions): Promise<GitLabSimulator> {
  const { world } = options;
  const wallClock = options.wallClock ?? Date.now;
  const faults = new GitLabFaults();
  const requests = new RequestLog(options.maxLoggedRequests);
  const limiter = new FixedWindowRateLimiter(options.rateLimitPerMinute ?? 2000, wallClock, options.rateLimitWindowStart);
  const jobsLimit = options.projectJobsRateLimitPerMinute ?? projectJobsRateLimit(world.profile) ?? false;
  const jobsLimiter = jobsLimit === false ? undefined : new FixedWindowRateLimiter(jobsLimit, wallClock, options.rateLimitWindowStart);
  const hanging = new Set<ServerResponse>();
  let requestCounter = 0;
  const credentials = { token: options.token, adminToken: options.adminToken };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) write(response, json(500, { message: "500 Internal Server Error" }));
      else response.destroy();
      // A bug in the simulator should fail the test that hit it, not vanish.
      process.emitWarning(`GitLab simulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    });
  });
  faults.onClear(() => {
    for (const response of hanging) response.destroy();
    hanging.clear();
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
    const method = request.method ?? "GET";
    const match = method === "GET" || method === "HEAD" ? matchRoute(url.pathname) : undefined;
    const graphql = method === "POST" && url.pathname === "/api/graphql";
    const record: RequestRecord = {
      at: wallClock(),
      method,
      path: url.pathname,
      query: url.searchParams,
      route: graphql ? "/graphql" : (match?.route ?? "unknown"),
      projectId: match && match.route !== "/groups/:id/projects" ? world.project(match.ref)?.id : undefined,
      pipelineId: match?.pipelineId,
      status: 0,
      fault: undefined,
    };
    requests.add(record);

    const token = graphql ? graphqlToken(request.headers) : single(request.headers["private-token"]);
    const authenticated = token === options.token || (options.adminToken !== undefined && token === options.adminToken);
    // Rack::Attack counts per user when authenticated and per IP otherwise.
    const quota = limiter.hit(authenticated ? `token:${token}` : `ip:${request.socket.remoteAddress ?? ""}`);
    const common: Record<string, string> = {
      // GitLab's clock is the world's: the exporter reads the time of `updated_after` from it.
      date: new Date(world.now()).toUTCString(),
      "cache-control": "no-cache",
      vary: "Origin",
      "x-request-id": `sim-${(++requestCounter).toString(16).padStart(12, "0")}`,
      // GitLab.com sends them on most answers, a self-managed instance only on the 429 itself.
      ...(world.profile.deployment === "gitlab.com" ? rateLimitHeaders(quota, authenticated) : {}),
    };
    const send = (reply: Reply) => {
      record.status = reply.status;
      write(response, { ...reply, headers: { ...common, ...reply.headers } });
    };

    let fault = faults.take(url.pathname, match?.paginated ?? false);
    if (fault) record.fault = fault.kind;
    if (fault?.kind === "delay") {
      const { ms } = fault;
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (response.destroyed) return;
      fault = undefined;
    }
    if (fault && fault.kind !== "pagination-loop" && fault.kind !== "malformed-json" && fault.kind !== "truncated-json") {
      return serveFault(fault, request, response, record, common, quota);
    }

    // Rack::Attack throttles before Grape authenticates.
    if (quota.exceeded) return send(throttled(quota.retryAfter, quota, authenticated));
    let reply: Reply;
    if (graphql) {
      // GraphQL shares the REST quota (Rack::Attack throttles both) but authenticates on its own.
      reply = answerGraphql(world, simulator.graphql, credentials, token, await readBody(request));
    } else {
      if (!authenticated) return send(json(401, { message: "401 Unauthorized" }));
      if (!match) return send(json(404, { message: "404 Not Found" }));
      if (jobsLimiter && match.route === "/projects/:id/jobs" && jobsLimiter.hit(`token:${token}`).exceeded) {
        record.status = 429;
        return write(response, projectJobsThrottled(common));
      }
      reply = answer(world, match, url, world.now(), fault?.kind === "pagination-loop");
    }
    if (fault?.kind === "malformed-json" && reply.status === 200) return send({ ...reply, body: reply.body.slice(0, Math.max(1, Math.floor(reply.body.length / 2))) });
    if (fault?.kind === "truncated-json" && reply.status === 200) {
      record.status = 200;
      const bytes = Buffer.from(reply.body);
      response.writeHead(200, { ...common, ...reply.headers, "content-type": reply.contentType, "content-length": String(bytes.length) });
      response.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
      // Give the partial body time to leave before the connection drops.
      setTimeout(() => request.socket.destroy(), 10);
      return;
    }
    send(reply);
  }

  function serveFault(fault: Fault, request: IncomingMessage, response: ServerResponse, record: RequestRecord, common: Record<string, string>, quota: RateLimitState): void {
    switch (fault.kind) {
      case "status":
        record.status = fault.status;
        write(response, { ...errorPage(fault.status), headers: common });
        return;
      case "rate-limit": {
        record.status = 429;
        const reply = throttled(fault.retryAfterSeconds, quota, true);
        write(response, { ...reply, headers: { ...common, ...reply.headers } });
        return;
      }
      case "reset":
        request.socket.destroy();
        return;
      case "hang":
        hanging.add(response);
        response.on("close", () => hanging.delete(response));
        return;
      case "html":
        record.status = 200;
        write(response, {
          status: 200,
          headers: common,
          contentType: "text/html; charset=utf-8",
          body: "<!DOCTYPE html><html><head><title>Sign in · GitLab</title></head><body><h1>Sign in</h1></body></html>",
        });
        return;
      default:
        throw new Error(`fault ${fault.kind} is applied to the answer, not instead of it`);
    }
  }

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const simulator: GitLabSimulator = {
    url: `http://${hostPart}:${address.port}`,
    faults,
    requests,
    graphql: options.graphql ?? "enabled",
    async close() {
      faults.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return simulator;
}

/** A GraphQL request body; GitLab refuses query text over 10,000 characters, so 1 MiB is plenty. */
async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function errorPage(status: 500 | 502 | 503 | 504): Omit<Reply, "headers"> {
  switch (status) {
    case 500:
      return { status, contentType: "application/json", body: JSON.stringify({ message: "500 Internal Server Error" }) };
    case 502:
      // Workhorse's answer when Puma does not respond.
      return { status, contentType: "text/plain; charset=utf-8", body: "GitLab is not responding\n" };
    case 503:
      return {
        status,
        contentType: "text/html; charset=utf-8",
        body: htmlPage("GitLab is not responding (503)", "503", "Whoops, GitLab is temporarily unavailable."),
      };
    case 504:
      return { status, contentType: "text/html", body: htmlPage("504 Gateway Time-out", "504 Gateway Time-out", "nginx") };
  }
}

function htmlPage(title: string, heading: string, text: string): string {
  return `<!DOCTYPE html>\n<html>\n<head>\n  <meta charset="utf-8">\n  <title>${title}</title>\n</head>\n<body>\n  <h1>${heading}</h1>\n  <h3>${text}</h3>\n  <hr/>\n  <p>Try refreshing the page, or going back and attempting the action again.</p>\n  <p>Please contact your GitLab administrator if this problem persists.</p>\n</body>\n</html>\n`;
}

function write(response: ServerResponse, reply: Reply): void {
  if (response.headersSent || response.destroyed) return;
  const body = Buffer.from(reply.body);
  response.writeHead(reply.status, { ...reply.headers, "content-type": reply.contentType, "content-length": String(body.length) });
  response.end(body);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
