import {
  createRequesterFn,
  type FormattedResponse,
  type RequestOptions,
  type ResourceOptions,
  type RequesterType,
} from "@gitbeaker/requester-utils";
import { backoffMs, type BackoffOptions } from "../../lib/backoff.js";
import type { Rejections } from "../../lib/rejections.js";
import { sleep, type RequestBudget } from "./budget.js";
import type { GitLabClock } from "./clock.js";
import { readBoundedBody, type BoundedBody } from "./response-body.js";

/** Why a GitLab request failed, in terms the poller can act on. */
export class GitLabRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when no usable response arrived. */
    readonly status: number | undefined,
    readonly kind: "http" | "timeout" | "network" | "protocol",
    readonly endpoint: string,
  ) {
    super(message);
    this.name = "GitLabRequestError";
  }
}

export interface TransportOptions {
  readonly budget: RequestBudget;
  readonly requestTimeoutMs: number;
  /** Largest answer body read, counted after decompression (`GITLAB_MAX_RESPONSE_BYTES`). */
  readonly maxResponseBytes: number;
  /** Where a refused answer (too large) is counted and logged. */
  readonly rejections: Rejections;
  /** Called once per HTTP request sent (retries included), with the route template and outcome. */
  readonly onRequest: (endpoint: string, code: string) => void;
  readonly onRateLimited?: (endpoint: string, waitMs: number) => void;
  readonly now?: () => number;
  /** Aborted at shutdown: waits for the budget or a Retry-After end at once. */
  readonly shutdown?: AbortSignal;
  /** Learns GitLab's time from the `Date` header of its answers. */
  readonly clock?: GitLabClock;
  /** Waits after a 429 without a usable `Retry-After`; by default 5 s doubling up to 60 s. */
  readonly rateLimitBackoff?: BackoffOptions;
  readonly random?: () => number;
}

/** Attempts per call when GitLab answers 429: each waits as long as GitLab asked. */
const RATE_LIMITED_ATTEMPTS = 4;
/** Attempts per call for transient failures (5xx, reset, timeout); the next poll cycle retries too. */
const TRANSIENT_ATTEMPTS = 2;
const TRANSIENT_BACKOFF_MS = 1000;
/**
 * A 429 that names no usable wait (GitLab's own jobs-API limit sends no `Retry-After`; a
 * negative, zero or garbled one is no better): 5 s, doubling per 429 in a row, up to the minute
 * GitLab's rate-limit windows last.
 */
const RATE_LIMIT_BACKOFF: BackoffOptions = { initialMs: 5_000, maxMs: 60_000 };
/** The longest `Retry-After` honoured. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;
/** Slow down before GitLab has to say no: below this share of the quota, wait for its reset. */
const LOW_REMAINING_SHARE = 0.05;
/** Of an error answer only a message is wanted: read this much of it at most. */
const ERROR_BODY_BYTES = 64 * 1024;

/**
 * A gitbeaker requester that replaces @gitbeaker/rest's built-in one. The built-in handler
 * retries 429 with sub-second waits whatever `Retry-After` says and counts nothing; this one
 * spends the shared request budget, honours `Retry-After` and `RateLimit-Remaining`, applies a
 * per-request timeout, records every request, and refuses pagination links that loop.
 *
 * No answer is trusted: redirects are never followed (the token would go with them), a body is
 * read up to `maxResponseBytes` after decompression and within the request's deadline, and only
 * GitLab's own JSON answers tell the clock GitLab's time.
 */
export function createGitLabRequester(options: TransportOptions): (resource: ResourceOptions) => RequesterType {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  /** 429 answers in a row, over all calls: GitLab still refusing means waiting longer. */
  let rateLimitedInARow = 0;

  async function handle(endpoint: string, requestOptions?: Record<string, unknown>): Promise<FormattedResponse> {
    const { prefixUrl, searchParams, method = "GET", headers, body, signal: callerSignal } = (requestOptions ?? {}) as RequestOptions;
    const signal = callerSignal ?? options.shutdown;
    const base = prefixUrl?.endsWith("/") ? prefixUrl : `${prefixUrl ?? ""}/`;
    const url = new URL(endpoint, base);
    url.search = searchParams ?? "";
    const route = routeTemplate(endpoint);

    let rateLimited = 0;
    let transient = 0;
    for (;;) {
      const release = await options.budget.acquire(signal);
      let outcome: Attempt;
      try {
        outcome = await attempt(url, { method, headers, body, signal }, route);
      } finally {
        release();
      }
      options.onRequest(route, outcome.code);
      rateLimitedInARow = outcome.kind === "rate-limited" ? rateLimitedInARow + 1 : 0;
      if (outcome.kind === "ok") {
        slowDownWhenLow(outcome.response.headers);
        return outcome.response;
      }
      if (outcome.kind === "rate-limited") {
        const waitMs = outcome.retryAfterMs ?? backoffMs(rateLimitedInARow - 1, options.rateLimitBackoff ?? RATE_LIMIT_BACKOFF, random);
        options.budget.pauseUntil(now() + waitMs);
        options.onRateLimited?.(route, waitMs);
        if (++rateLimited >= RATE_LIMITED_ATTEMPTS) throw outcome.error;
        continue;
      }
      if (outcome.kind === "transient" && ++transient < TRANSIENT_ATTEMPTS && !signal?.aborted) {
        await sleep(TRANSIENT_BACKOFF_MS * transient, signal);
        continue;
      }
      throw outcome.error;
    }
  }

  type Attempt =
    | { kind: "ok"; code: string; response: FormattedResponse }
    | { kind: "rate-limited"; code: string; retryAfterMs: number | undefined; error: GitLabRequestError }
    | { kind: "transient" | "fatal"; code: string; error: GitLabRequestError };

  interface Answer {
    readonly status: number;
    readonly headers: Record<string, string>;
    readonly body: BoundedBody;
  }

  /**
   * One exchange under one deadline, the body read included: a response that never finishes is
   * a timeout. A redirect is returned as it is (its body unread), never followed: fetch would
   * follow it to any host and undici keeps custom headers such as PRIVATE-TOKEN across origins.
   */
  async function exchange(
    url: URL,
    init: { method: string; headers?: Record<string, string>; body?: string | FormData; signal?: AbortSignal },
    route: string,
  ): Promise<Answer | Attempt> {
    // A controller per request rather than AbortSignal.any() on the long-lived shutdown signal:
    // Node 20 keeps every signal derived that way alive as long as its source, a steady leak.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error("request timeout"));
    }, options.requestTimeoutMs);
    const onParentAbort = () => controller.abort(init.signal?.reason);
    init.signal?.addEventListener("abort", onParentAbort, { once: true });
    try {
      const response = await fetch(url, { method: init.method, headers: init.headers, body: init.body ?? null, signal: controller.signal, redirect: "manual" });
      const headers = Object.fromEntries(response.headers.entries());
      if (isRedirect(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        return { status: response.status, headers, body: { bytes: Buffer.alloc(0), complete: true } };
      }
      const body = await readBoundedBody(response.body, response.ok ? options.maxResponseBytes : ERROR_BODY_BYTES);
      return { status: response.status, headers, body };
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason;
      const failure = new GitLabRequestError(
        timedOut
          ? `GET ${route}: no complete response within ${options.requestTimeoutMs} ms`
          : `GET ${route}: ${describeNetworkError(error)}`,
        undefined,
        timedOut ? "timeout" : "network",
        route,
      );
      return { kind: "transient", code: "error", error: failure };
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener("abort", onParentAbort);
      // Whatever was not read (a cut body, a redirect's) is not downloaded further.
      controller.abort();
    }
  }

  async function attempt(
    url: URL,
    init: { method: string; headers?: Record<string, string>; body?: string | FormData; signal?: AbortSignal },
    route: string,
  ): Promise<Attempt> {
    const answer = await exchange(url, init, route);
    if ("kind" in answer) return answer;
    const { status, headers, body } = answer;
    const code = String(status);
    if (isRedirect(status)) return { kind: "fatal", code, error: redirectError(route, status, headers["location"], url) };

    const contentType = (headers["content-type"] ?? "").split(";")[0]!.trim();
    // GitLab's API answers in JSON, errors included; an HTML page is a proxy's or a portal's,
    // whose clock says nothing about GitLab's.
    if (contentType === "application/json") options.clock?.observe(headers["date"], now());
    if (status === 429) {
      const error = new GitLabRequestError(`GET ${route}: rate limited (429) too many times`, 429, "http", route);
      return { kind: "rate-limited", code, retryAfterMs: retryAfterMs(headers["retry-after"], now()), error };
    }
    if (status < 200 || status >= 300) {
      const error = new GitLabRequestError(`GET ${route}: HTTP ${status}${errorDetail(body.bytes, contentType)}`, status, "http", route);
      return { kind: status >= 500 ? "transient" : "fatal", code, error };
    }
    if (!body.complete) {
      options.rejections.reject("gitlab_api", "response_too_large", { endpoint: route, maxBytes: options.maxResponseBytes });
      const message = `GET ${route}: answer larger than ${options.maxResponseBytes} bytes (GITLAB_MAX_RESPONSE_BYTES); not read further`;
      // The same request would bring the same answer: not retried.
      return { kind: "fatal", code, error: new GitLabRequestError(message, status, "protocol", route) };
    }
    if (contentType !== "application/json") {
      const error = new GitLabRequestError(`GET ${route}: expected JSON, got ${contentType || "no content type"}`, status, "protocol", route);
      return { kind: "transient", code, error };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.bytes.toString("utf8"));
    } catch {
      const error = new GitLabRequestError(`GET ${route}: malformed JSON (${body.bytes.length} bytes)`, status, "protocol", route);
      return { kind: "transient", code, error };
    }
    const next = nextLink(headers["link"]);
    if (next !== undefined && sameUrl(next, url)) {
      const error = new GitLabRequestError(`GET ${route}: pagination link points back to the same page`, status, "protocol", route);
      return { kind: "fatal", code, error };
    }
    return { kind: "ok", code, response: { body: parsed as FormattedResponse["body"], headers, status } };
  }

  function slowDownWhenLow(headers: Record<string, string>): void {
    const remaining = Number(headers["ratelimit-remaining"]);
    const limit = Number(headers["ratelimit-limit"]);
    const reset = Number(headers["ratelimit-reset"]);
    if (!Number.isFinite(remaining) || !Number.isFinite(limit) || !Number.isFinite(reset) || limit <= 0) return;
    // The requests already in flight spend quota too: keep room for all of them.
    if (remaining > Math.max(1, limit * LOW_REMAINING_SHARE, options.budget.maxInFlight)) return;
    const waitMs = Math.min(Math.max(reset * 1000 - now(), 0), MAX_RETRY_AFTER_MS);
    options.budget.pauseUntil(now() + waitMs);
  }

  return createRequesterFn((_, prepared) => Promise.resolve(prepared), handle);
}

/**
 * `projects/42/jobs/7` → `/projects/:id/jobs/:job_id`, `projects/42/pipelines/9/jobs` →
 * `/projects/:id/pipelines/:pipeline_id/jobs`: a bounded label, never a raw URL.
 */
export function routeTemplate(endpoint: string): string {
  const segments = endpoint.split("?")[0]!.split("/").filter((s) => s !== "");
  return (
    "/" +
    segments
      .map((segment, index) => {
        if (index % 2 === 0) return segment;
        return index === 1 ? ":id" : `:${singular(segments[index - 1]!)}_id`;
      })
      .join("/")
  );
}

function singular(resource: string): string {
  return resource.endsWith("s") ? resource.slice(0, -1) : resource;
}

/**
 * The wait a 429's `Retry-After` asks for (seconds, or an HTTP date), at most 15 minutes;
 * undefined when it asks for none that can be used (absent, garbled, zero, negative or a date
 * already past): the caller backs off on its own then rather than retrying at once.
 */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - nowMs;
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/**
 * Names only the origin the redirect points to: a Location may carry a token or other secrets
 * in its path or query, and the log is no place for them.
 */
function redirectError(route: string, status: number, location: string | undefined, requested: URL): GitLabRequestError {
  let target: string;
  try {
    target = location === undefined ? "nowhere (no Location)" : new URL(location, requested).origin;
  } catch {
    target = "an unreadable Location";
  }
  const message =
    `GET ${route}: HTTP ${status} redirect to ${target}, not followed (the token is sent to ${requested.origin} only); ` +
    "set GITLAB_URL to the address GitLab answers at directly (scheme, host and port), without a redirect in between";
  return new GitLabRequestError(message, status, "http", route);
}

function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return match[1];
  }
  return undefined;
}

function sameUrl(link: string, current: URL): boolean {
  try {
    const next = new URL(link);
    const sortedQuery = (u: URL) => [...u.searchParams.entries()].map(([k, v]) => `${k}=${v}`).sort().join("&");
    return next.pathname === current.pathname && sortedQuery(next) === sortedQuery(current);
  } catch {
    return false;
  }
}

function errorDetail(body: Buffer, contentType: string): string {
  if (!contentType.includes("json")) return "";
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { message?: unknown; error?: unknown };
    const detail = parsed.message ?? parsed.error;
    return typeof detail === "string" ? ` (${detail.slice(0, 200)})` : "";
  } catch {
    return "";
  }
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? "request failed";
}
