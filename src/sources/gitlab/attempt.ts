import type { FormattedResponse } from "@gitbeaker/requester-utils";
import type { Rejections } from "../../lib/rejections.js";
import type { GitLabClock } from "./clock.js";
import { GitLabRequestError } from "./request-error.js";
import { readBoundedBody, type BoundedBody } from "./response-body.js";
import { retryAfterMs } from "./retry-after.js";

/**
 * One request to GitLab and what its answer means, with no retry: the retry policy
 * (`transport.ts`) decides what to do with each kind of outcome.
 *
 * No answer is trusted: redirects are never followed (the token would go with them), a body is
 * read up to `maxResponseBytes` after decompression and within the request's deadline, and only
 * GitLab's own JSON answers tell the clock GitLab's time.
 */

export interface AttemptOptions {
  readonly requestTimeoutMs: number;
  /** Largest answer body read, counted after decompression (`GITLAB_MAX_RESPONSE_BYTES`). */
  readonly maxResponseBytes: number;
  /** Where a refused answer (too large) is counted and logged. */
  readonly rejections: Rejections;
  /** Learns GitLab's time from the `Date` header of its answers. */
  readonly clock?: GitLabClock;
  readonly now: () => number;
}

export interface AttemptInit {
  readonly method: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | FormData;
  /** The caller's, or the shutdown signal: ends the request and rejects with its reason. */
  readonly signal?: AbortSignal;
}

/** What one attempt came to, and the `code` label it is counted with. */
export type Attempt =
  | { readonly kind: "ok"; readonly code: string; readonly response: FormattedResponse }
  | { readonly kind: "rate-limited"; readonly code: string; readonly retryAfterMs: number | undefined; readonly error: GitLabRequestError }
  | { readonly kind: "transient" | "fatal"; readonly code: string; readonly error: GitLabRequestError };

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: BoundedBody;
}

/** Of an error answer only a message is wanted: read this much of it at most. */
const ERROR_BODY_BYTES = 64 * 1024;

export async function attempt(url: URL, init: AttemptInit, route: string, options: AttemptOptions): Promise<Attempt> {
  const answer = await exchange(url, init, route, options);
  if ("kind" in answer) return answer;
  const { status, headers, body } = answer;
  const code = String(status);
  if (isRedirect(status)) return { kind: "fatal", code, error: redirectError(init.method, route, status, headers["location"], url) };

  const contentType = (headers["content-type"] ?? "").split(";")[0]!.trim();
  // GitLab's API answers in JSON, errors included; an HTML page is a proxy's or a portal's,
  // whose clock says nothing about GitLab's.
  if (contentType === "application/json") options.clock?.observe(headers["date"], options.now());
  if (status === 429) {
    const error = new GitLabRequestError(`${init.method} ${route}: rate limited (429) too many times`, 429, "http", route, url.host);
    return { kind: "rate-limited", code, retryAfterMs: retryAfterMs(headers["retry-after"], options.now()), error };
  }
  if (status < 200 || status >= 300) {
    const error = new GitLabRequestError(`${init.method} ${route}: HTTP ${status}${errorDetail(body.bytes, contentType)}`, status, "http", route, url.host);
    return { kind: status >= 500 ? "transient" : "fatal", code, error };
  }
  if (!body.complete) {
    options.rejections.reject("gitlab_api", "response_too_large", { endpoint: route, maxBytes: options.maxResponseBytes });
    const message = `${init.method} ${route}: answer larger than ${options.maxResponseBytes} bytes (GITLAB_MAX_RESPONSE_BYTES); not read further`;
    // The same request would bring the same answer: not retried.
    return { kind: "fatal", code, error: new GitLabRequestError(message, status, "protocol", route, url.host) };
  }
  if (contentType !== "application/json") {
    const error = new GitLabRequestError(`${init.method} ${route}: expected JSON, got ${contentType || "no content type"}`, status, "protocol", route, url.host);
    return { kind: "transient", code, error };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.bytes.toString("utf8"));
  } catch {
    const error = new GitLabRequestError(`${init.method} ${route}: malformed JSON (${body.bytes.length} bytes)`, status, "protocol", route, url.host);
    return { kind: "transient", code, error };
  }
  const next = nextLink(headers["link"]);
  if (next !== undefined && sameUrl(next, url)) {
    const error = new GitLabRequestError(`${init.method} ${route}: pagination link points back to the same page`, status, "protocol", route, url.host);
    return { kind: "fatal", code, error };
  }
  return { kind: "ok", code, response: { body: parsed as FormattedResponse["body"], headers, status } };
}

/**
 * One exchange under one deadline, the body read included: a response that never finishes is
 * a timeout. A redirect is returned as it is (its body unread), never followed: fetch would
 * follow it to any host and undici keeps custom headers such as PRIVATE-TOKEN across origins.
 */
async function exchange(url: URL, init: AttemptInit, route: string, options: AttemptOptions): Promise<Answer | Attempt> {
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
    const networkCode = timedOut ? undefined : describeNetworkError(error);
    const failure = new GitLabRequestError(
      timedOut ? `${init.method} ${route}: no complete response within ${options.requestTimeoutMs} ms` : `${init.method} ${route}: ${networkCode}`,
      undefined,
      timedOut ? "timeout" : "network",
      route,
      url.host,
      networkCode,
    );
    return { kind: "transient", code: "error", error: failure };
  } finally {
    clearTimeout(timer);
    init.signal?.removeEventListener("abort", onParentAbort);
    // Whatever was not read (a cut body, a redirect's) is not downloaded further.
    controller.abort();
  }
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/**
 * Names only the origin the redirect points to: a Location may carry a token or other secrets
 * in its path or query, and the log is no place for them.
 */
function redirectError(method: string, route: string, status: number, location: string | undefined, requested: URL): GitLabRequestError {
  let target: string;
  try {
    target = location === undefined ? "nowhere (no Location)" : new URL(location, requested).origin;
  } catch {
    target = "an unreadable Location";
  }
  const message =
    `${method} ${route}: HTTP ${status} redirect to ${target}, not followed (the token is sent to ${requested.origin} only); ` +
    "set GITLAB_URL to the address GitLab answers at directly (scheme, host and port), without a redirect in between";
  return new GitLabRequestError(message, status, "http", route, requested.host);
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
