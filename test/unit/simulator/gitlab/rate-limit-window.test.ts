import { describe, expect, it } from "vitest";
import { FixedWindowRateLimiter } from "../../../../src/simulator/gitlab/rate-limit.js";

describe("FixedWindowRateLimiter with a window start", () => {
  it("counts one-minute windows from that instant, before and after it", () => {
    const windowStart = Date.UTC(2021, 0, 5, 10, 59, 30, 250);
    let now = windowStart + 1_000;
    const limiter = new FixedWindowRateLimiter(2, () => now, windowStart);
    limiter.hit("a");
    // 11:00:00 would have started a fresh epoch-aligned window; this one runs on.
    now = windowStart + 59_000;
    expect(limiter.hit("a")).toMatchObject({ observed: 2, remaining: 0, exceeded: false, retryAfter: 1, resetAt: Math.ceil((windowStart + 60_000) / 1000) });
    now = windowStart + 60_000;
    expect(limiter.hit("a")).toMatchObject({ observed: 1, retryAfter: 60, resetAt: Math.ceil((windowStart + 120_000) / 1000) });
    // An instant before the start belongs to the window that ends at it.
    now = windowStart - 1;
    expect(limiter.hit("a")).toMatchObject({ observed: 1, retryAfter: 1, resetAt: Math.ceil(windowStart / 1000) });
  });

  it("starts on the minute without one, as GitLab's do", () => {
    const now = Date.UTC(2021, 0, 5, 10, 59, 30);
    expect(new FixedWindowRateLimiter(2, () => now).hit("a").resetAt).toBe(Date.UTC(2021, 0, 5, 11, 0, 0) / 1000);
  });
});
