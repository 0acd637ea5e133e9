/** One request's view of its quota, as GitLab reports it in RateLimit-* headers. */
export interface RateLimitState {
  readonly limit: number;
  readonly observed: number;
  readonly remaining: number;
  /** End of the current window, Unix seconds. */
  readonly resetAt: number;
  /** Seconds until the window ends, at least 1. */
  readonly retryAfter: number;
  readonly exceeded: boolean;
}

const PERIOD_MS = 60_000;

/**
 * Rack::Attack's fixed-window throttle as GitLab configures it: one counter per client and
 * period, windows aligned to the epoch (the key includes `now / period`), every request counted,
 * throttled ones included. `windowStart` moves the alignment: windows then begin at that instant
 * and every minute before and after it.
 */
export class FixedWindowRateLimiter {
  private readonly windows = new Map<string, { start: number; observed: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
    private readonly windowStart = 0,
  ) {
    if (!(limit > 0)) throw new Error(`rateLimitPerMinute must be positive, got ${limit}`);
    if (!Number.isFinite(windowStart)) throw new Error(`rateLimitWindowStart must be a finite time, got ${windowStart}`);
  }

  hit(client: string): RateLimitState {
    const now = this.now();
    const start = now - mod(now - this.windowStart, PERIOD_MS);
    let window = this.windows.get(client);
    if (!window || window.start !== start) {
      // Old windows of other clients are dropped lazily here, so the map stays small.
      if (this.windows.size > 1000) this.windows.clear();
      window = { start, observed: 0 };
      this.windows.set(client, window);
    }
    window.observed++;
    const end = start + PERIOD_MS;
    return {
      limit: this.limit,
      observed: window.observed,
      remaining: Math.max(0, this.limit - window.observed),
      resetAt: Math.ceil(end / 1000),
      retryAfter: Math.max(1, Math.ceil((end - now) / 1000)),
      exceeded: window.observed > this.limit,
    };
  }
}

/** The remainder with the divisor's sign, so instants before `windowStart` fall in earlier windows. */
function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
