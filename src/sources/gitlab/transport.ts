import { createRequesterFn, type FormattedResponse, type RequestOptions, type ResourceOptions, type RequesterType } from "@gitbeaker/requester-utils";
import { backoffDelayMs, backoffMs, type BackoffOptions } from "../../lib/backoff.js";
import type { Rejections } from "../../lib/rejections.js";
import { attempt, type Attempt, type AttemptInit, type AttemptOptions } from "./attempt.js";
import { sleep } from "../../lib/sleep.js";
import type { RequestBudget } from "./budget.js";
import type { GitLabClock } from "./clock.js";
import { MAX_RETRY_AFTER_MS } from "./retry-after.js";
import { routeTemplate } from "./route.js";

// Where the poller, the API and discovery find the error every GitLab call may throw.

export interface TransportOptions {
  readonly budget: RequestBudget;
  readonly requestTimeoutMs: number;
  /** Largest answer body read, counted after decompression (`GITLAB_MAX_RESPONSE_BYTES`). */
  readonly maxResponseBytes: number;
  /** Where a refused answer (too large) is counted and logged. */
  readonly rejections: Rejections;
  /** Called once per HTTP request sent (retries included), with the route template and outcome. */
  readonly onRequest: (endpoint: string, code: string) => void;
  /** A 429: how long every request now waits, and the request rate the budget slowed to. */
  readonly onRateLimited?: (endpoint: string, waitMs: number, ratePerSecond: number) => void;
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
 * negative, zero or garbled one is no better): 5 s, doubling per 429 in a row from the same
 * route, up to the minute GitLab's rate-limit windows last.
 */
const RATE_LIMIT_BACKOFF: BackoffOptions = { initialMs: 5_000, maxMs: 60_000 };
/** Slow down before GitLab has to say no: below this share of the quota, wait for its reset. */
const LOW_REMAINING_SHARE = 0.05;

/**
 * A gitbeaker requester that replaces @gitbeaker/rest's built-in one. The built-in handler
 * retries 429 with sub-second waits whatever `Retry-After` says and counts nothing; this one
 * spends the shared request budget, honours `Retry-After` and `RateLimit-Remaining`, applies a
 * per-request timeout, records every request, and refuses pagination links that loop (each
 * attempt: `attempt.ts`).
 */
export function createGitLabRequester(options: TransportOptions): (resource: ResourceOptions) => RequesterType {
  return new GitLabTransport(options).requesterFn;
}

/** A JSON request outside gitbeaker (GraphQL), sent through the same budget, limits and retries. */
export interface JsonRequest {
  /** The API root, e.g. `https://gitlab.example.com/api/`. */
  readonly prefixUrl: string;
  /** Relative to `prefixUrl`, e.g. `graphql`. */
  readonly endpoint: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/**
 * The one door to GitLab: the gitbeaker requester for REST and a JSON POST for GraphQL share
 * one retry policy, so a 429 on either slows both.
 */
export class GitLabTransport {
  private readonly requests: RetryingRequests;
  readonly requesterFn: (resource: ResourceOptions) => RequesterType;

  constructor(options: TransportOptions) {
    const requests = new RetryingRequests(options);
    this.requests = requests;
    this.requesterFn = createRequesterFn(
      (_, prepared) => Promise.resolve(prepared),
      (endpoint, requestOptions) => requests.send(endpoint, requestOptions),
    );
  }

  async postJson(request: JsonRequest): Promise<FormattedResponse> {
    return this.requests.send(request.endpoint, {
      prefixUrl: request.prefixUrl,
      method: "POST",
      headers: { ...request.headers, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(request.body),
    });
  }
}

/** The retry policy, over every call of one requester: 429s wait as GitLab asks, transient failures retry once. */
class RetryingRequests {
  /**
   * Per route, 429 answers in a row over all calls (GitLab still refusing means waiting longer),
   * and when the last was read. A route's own limit (the jobs endpoint's) refuses it while the
   * others still answer, so their answers do not end its streak.
   */
  private readonly rateLimited = new Map<string, { inARow: number; lastAtMs: number }>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly attemptOptions: AttemptOptions;

  constructor(private readonly options: TransportOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    const { requestTimeoutMs, maxResponseBytes, rejections, clock } = options;
    this.attemptOptions = { requestTimeoutMs, maxResponseBytes, rejections, clock, now: this.now };
  }

  async send(endpoint: string, requestOptions?: Record<string, unknown>): Promise<FormattedResponse> {
    const { prefixUrl, searchParams, method = "GET", headers, body, signal: callerSignal } = (requestOptions ?? {}) as RequestOptions;
    const signal = callerSignal ?? this.options.shutdown;
    const base = prefixUrl?.endsWith("/") ? prefixUrl : `${prefixUrl ?? ""}/`;
    const url = new URL(endpoint, base);
    url.search = searchParams ?? "";
    const route = routeTemplate(endpoint);
    let rateLimited = 0;
    let transient = 0;
    for (;;) {
      const outcome = await this.attemptWithinBudget(url, { method, headers, body, signal }, route);
      if (outcome.kind === "ok") {
        this.pauseWhenQuotaLow(outcome.response.headers);
        return outcome.response;
      }
      if (outcome.kind === "rate-limited") {
        this.waitAfterRateLimit(route, outcome.retryAfterMs, outcome.startedAtMs);
        if (++rateLimited >= RATE_LIMITED_ATTEMPTS) throw outcome.error;
        continue;
      }
      if (outcome.kind === "transient" && ++transient < TRANSIENT_ATTEMPTS && !signal?.aborted) {
        await sleep(backoffDelayMs(transient, { initialMs: TRANSIENT_BACKOFF_MS, maxMs: TRANSIENT_BACKOFF_MS * 8 }), signal);
        continue;
      }
      throw outcome.error;
    }
  }

  /** One attempt, once the budget allows, counted; with the time it started. */
  private async attemptWithinBudget(url: URL, init: AttemptInit, route: string): Promise<Attempt & { readonly startedAtMs: number }> {
    const release = await this.options.budget.acquire(init.signal);
    const startedAtMs = this.now();
    let outcome: Attempt;
    try {
      outcome = await attempt(url, init, route, this.attemptOptions);
    } finally {
      release();
    }
    this.options.onRequest(route, outcome.code);
    if (outcome.kind !== "rate-limited") this.rateLimited.delete(route);
    return { ...outcome, startedAtMs };
  }

  /**
   * Every request waits as long as GitLab asked, or, when it named no wait, for a backoff that
   * grows with the route's 429s in a row; and the budget slows down. A 429 to a request that
   * left before the previous 429 came back is the same refusal seen again: it neither lengthens
   * the backoff nor slows the budget further.
   */
  private waitAfterRateLimit(route: string, retryAfterMs: number | undefined, startedAtMs: number): void {
    const { budget } = this.options;
    const previous = this.rateLimited.get(route);
    const fresh = previous === undefined || startedAtMs >= previous.lastAtMs;
    const inARow = (previous?.inARow ?? 0) + (fresh ? 1 : 0);
    this.rateLimited.set(route, { inARow, lastAtMs: this.now() });
    if (fresh) budget.slowDown();
    const waitMs = retryAfterMs ?? backoffMs(inARow - 1, this.options.rateLimitBackoff ?? RATE_LIMIT_BACKOFF, this.random);
    budget.pauseUntil(this.now() + waitMs);
    this.options.onRateLimited?.(route, waitMs, budget.ratePerSecond);
  }

  private pauseWhenQuotaLow(headers: Record<string, string>): void {
    const remaining = Number(headers["ratelimit-remaining"]);
    const limit = Number(headers["ratelimit-limit"]);
    const reset = Number(headers["ratelimit-reset"]);
    if (!Number.isFinite(remaining) || !Number.isFinite(limit) || !Number.isFinite(reset) || limit <= 0) return;
    // The requests already in flight spend quota too: keep room for all of them.
    if (remaining > Math.max(1, limit * LOW_REMAINING_SHARE, this.options.budget.maxInFlight)) return;
    const waitMs = Math.min(Math.max(reset * 1000 - this.now(), 0), MAX_RETRY_AFTER_MS);
    this.options.budget.pauseUntil(this.now() + waitMs);
  }
}
