import type { RateLimitState } from "./rate-limit.js";
import { json, type Reply } from "./routes.js";

/** The `RateLimit-*` headers Rack::Attack computes (`Gitlab::RackAttack.throttled_response_headers`). */
export function rateLimitHeaders(quota: RateLimitState, authenticated: boolean): Record<string, string> {
  return {
    "ratelimit-limit": String(quota.limit),
    "ratelimit-name": authenticated ? "throttle_authenticated_api" : "throttle_unauthenticated_api",
    "ratelimit-observed": String(quota.observed),
    "ratelimit-remaining": String(quota.remaining),
    "ratelimit-reset": String(quota.resetAt),
  };
}

/**
 * Rack::Attack's throttled answer as GitLab configures it (`lib/gitlab/rack_attack.rb`):
 * text/plain "Retry later", every `RateLimit-*` header, `RateLimit-ResetTime` and `Retry-After`,
 * on GitLab.com and self-managed alike.
 */
export function throttled(retryAfterSeconds: number, quota: RateLimitState, authenticated: boolean): Reply {
  return {
    status: 429,
    headers: {
      ...rateLimitHeaders(quota, authenticated),
      "ratelimit-remaining": "0",
      "ratelimit-resettime": new Date(quota.resetAt * 1000).toUTCString(),
      "retry-after": String(retryAfterSeconds),
    },
    contentType: "text/plain",
    body: "Retry later\n",
  };
}

/**
 * An application rate limit's answer (`API::Helpers::RateLimiter#render_exceeded_limit_error!`,
 * `lib/api/helpers/rate_limiter.rb`): a JSON 429 without `Retry-After` or any `RateLimit-*`
 * header, so a client cannot tell how long to wait. `common` loses its rate-limit headers.
 */
export function projectJobsThrottled(common: Record<string, string>): Reply {
  const headers = Object.fromEntries(Object.entries(common).filter(([name]) => !name.startsWith("ratelimit-") && name !== "retry-after"));
  return json(429, { message: { error: "This endpoint has been requested too many times. Try again later." } }, headers);
}
