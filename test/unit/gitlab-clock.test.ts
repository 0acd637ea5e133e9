import { describe, expect, it } from "vitest";
import { GitLabClock } from "../../src/sources/gitlab/clock.js";

describe("GitLabClock", () => {
  it("never runs ahead of GitLab's time, whatever the exporter's clock says", () => {
    const clock = new GitLabClock();
    // GitLab's clock is 90 s behind the exporter's; its Date header is truncated to the second.
    const local = Date.UTC(2026, 10, 24, 9, 0, 0, 700);
    const gitlab = local - 90_000;
    clock.observe(new Date(Math.floor(gitlab / 1000) * 1000).toUTCString(), local + 20);
    const estimate = clock.atOrBefore(local + 5_000);
    expect(estimate).toBeLessThanOrEqual(gitlab + 5_000);
    expect(estimate).toBeGreaterThan(gitlab + 5_000 - 1_100);
  });

  it("keeps the best bound, and follows a clock stepped back after a minute", () => {
    const clock = new GitLabClock();
    const at = Date.UTC(2026, 10, 24, 9, 0, 0);
    clock.observe(new Date(at).toUTCString(), at + 900);
    clock.observe(new Date(at).toUTCString(), at + 100);
    expect(clock.atOrBefore(at + 100)).toBe(at);
    clock.observe(new Date(at - 30_000).toUTCString(), at + 61_000 + 100);
    expect(clock.atOrBefore(at + 61_100)).toBe(at - 30_000);
  });

  it("falls back to the local clock less a margin before GitLab answered", () => {
    const clock = new GitLabClock();
    expect(clock.known).toBe(false);
    expect(clock.atOrBefore(1_000_000)).toBeLessThan(1_000_000 - 60_000);
    clock.observe("not a date", 0);
    expect(clock.known).toBe(false);
  });
});
