import {
  createRequesterFn,
  type FormattedResponse,
  type RequestOptions,
  type ResourceOptions,
  type RequesterType,
} from "@gitbeaker/requester-utils";
import { sleep, type RequestBudget } from "./budget.js";
import type { GitLabClock } from "./clock.js";

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
  /** Called once per HTTP request sent (retries included), with the route template and outcome. */
  readonly onRequest: (endpoint: string, code: string) => void;
  readonly onRateLimited?: (endpoint: string, waitMs: number) => void;
  readonly now?: () => number;
  /** Aborted at shutdown: waits for the budget or a Retry-After end at once. */
  readonly shutdown?: AbortSignal;
  /** Learns GitLab's time from the `Date` header of every answer. */
  readonly clock?: GitLabClock;
}

/** Attempts per call when GitLab answers 429: each waits as long as GitLab asked. */
const RATE_LIMITED_ATTEMPTS = 4;
/** Attempts per call for transient failures (5xx, reset, timeout); the next poll cycle retries too. */
const TRANSIENT_ATTEMPTS = 2;
const TRANSIENT_BACKOFF_MS = 1000;
/** When GitLab asks for no specific wait, or for an absurd one. */
const DEFAULT_RETRY_AFTER_MS = 60_000;
const MAX_RETRY_AFTER_MS = 15 * 60_000;
/** Slow down before GitLab has to say no: below this share of the quota, wait for its reset. */
const LOW_REMAINING_SHARE = 0.05;

/**
 * A gitbeaker requester that replaces @gitbeaker/rest's built-in one. The built-in handler
 * retries 429 with sub-second waits whatever `Retry-After` says and counts nothing; this one
 * spends the shared request budget, honours `Retry-After` and `RateLimit-Remaining`, applies a
 * per-request timeout, records every request, and refuses pagination links that loop.
 */
export function createGitLabRequester(options: TransportOptions): (resource: ResourceOptions) => RequesterType {
  const now = options.now ?? Date.now;

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
      if (outcome.kind === "ok") {
        slowDownWhenLow(outcome.response.headers);
        return outcome.response;
      }
      if (outcome.kind === "rate-limited") {
        const waitMs = outcome.retryAfterMs;
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
    | { kind: "rate-limited"; code: string; retryAfterMs: number; error: GitLabRequestError }
    | { kind: "transient" | "fatal"; code: string; error: GitLabRequestError };

  async function attempt(
    url: URL,
    init: { method: string; headers?: Record<string, string>; body?: string | FormData; signal?: AbortSignal },
    route: string,
  ): Promise<Attempt> {
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
    const signal = controller.signal;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method: init.method, headers: init.headers, body: init.body ?? null, signal });
      // The body is read under the same deadline: a response that never finishes is a timeout.
      text = await response.text();
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
    }

    const code = String(response.status);
    const headers = Object.fromEntries(response.headers.entries());
    options.clock?.observe(headers["date"], now());
    if (response.status === 429) {
      return {
        kind: "rate-limited",
        code,
        retryAfterMs: retryAfterMs(headers["retry-after"], now()),
        error: new GitLabRequestError(`GET ${route}: rate limited (429) too many times`, 429, "http", route),
      };
    }
    if (!response.ok) {
      const error = new GitLabRequestError(`GET ${route}: HTTP ${response.status}${errorDetail(text, headers)}`, response.status, "http", route);
      return { kind: response.status >= 500 ? "transient" : "fatal", code, error };
    }

    const contentType = (headers["content-type"] ?? "").split(";")[0]!.trim();
    if (contentType !== "application/json") {
      const error = new GitLabRequestError(`GET ${route}: expected JSON, got ${contentType || "no content type"}`, response.status, "protocol", route);
      return { kind: "transient", code, error };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      const error = new GitLabRequestError(`GET ${route}: malformed JSON (${text.length} bytes)`, response.status, "protocol", route);
      return { kind: "transient", code, error };
    }
    const next = nextLink(headers["link"]);
    if (next !== undefined && sameUrl(next, url)) {
      const error = new GitLabRequestError(`GET ${route}: pagination link points back to the same page`, response.status, "protocol", route);
      return { kind: "fatal", code, error };
    }
    return { kind: "ok", code, response: { body: body as FormattedResponse["body"], headers, status: response.status } };
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

export function retryAfterMs(header: string | undefined, nowMs: number): number {
  if (header === undefined || header.trim() === "") return DEFAULT_RETRY_AFTER_MS;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - nowMs;
  if (!Number.isFinite(ms)) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
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

function errorDetail(text: string, headers: Record<string, string>): string {
  if (!(headers["content-type"] ?? "").includes("json")) return "";
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
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
