import { describe, expect, it } from "vitest";
import { GitLabClock } from "../../../../src/sources/gitlab/clock.js";

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

  it("takes the lower median of several answers, and follows a clock stepped back at its next answer", () => {
    const clock = new GitLabClock();
    const at = Date.UTC(2026, 10, 24, 9, 0, 0);
    // Offsets −900, −100, −500 ms: the lower median is −500.
    clock.observe(new Date(at).toUTCString(), at + 900);
    clock.observe(new Date(at).toUTCString(), at + 100);
    clock.observe(new Date(at).toUTCString(), at + 500);
    expect(clock.atOrBefore(at + 500)).toBe(at);
    // GitLab's clock stepped back 30 s: a lower bound must follow at once.
    clock.observe(new Date(at + 31_000).toUTCString(), at + 61_000);
    expect(clock.atOrBefore(at + 61_000)).toBe(at + 31_000);
  });

  it("does not take GitLab to be ahead of the local clock on one or two answers", () => {
    const clock = new GitLabClock();
    const at = Date.UTC(2026, 10, 24, 9, 0, 0);
    // GitLab is 120 s ahead; the first two answers do not move the cursor past the local time.
    clock.observe(new Date(at + 120_000).toUTCString(), at);
    expect(clock.known).toBe(true);
    expect(clock.atOrBefore(at)).toBe(at);
    clock.observe(new Date(at + 121_000).toUTCString(), at + 1_000);
    expect(clock.atOrBefore(at + 1_000)).toBe(at + 1_000);
    // The third answer agrees: now GitLab's time is taken.
    clock.observe(new Date(at + 122_000).toUTCString(), at + 2_000);
    expect(clock.atOrBefore(at + 2_000)).toBe(at + 122_000);
  });

  it("lets no single answer move the pipelines cursor ahead: a far-future Date is refused and counted, a plausible outlier is outvoted", () => {
    const refused: Array<{ source: string; reason: string }> = [];
    const clock = new GitLabClock(Date.now, { reject: (source, reason) => refused.push({ source, reason }) });
    const at = Date.UTC(2026, 10, 24, 9, 0, 0);
    for (let i = 0; i < 5; i++) clock.observe(new Date(at + i * 1_000).toUTCString(), at + i * 1_000 + 200);
    const before = clock.atOrBefore(at + 10_000);
    expect(before).toBeLessThanOrEqual(at + 10_000);

    clock.observe("Fri, 01 Jan 2100 00:00:00 GMT", at + 5_000);
    expect(refused).toEqual([{ source: "gitlab_clock", reason: "implausible_date" }]);
    expect(clock.atOrBefore(at + 10_000)).toBe(before);

    // Ten hours ahead is a clock in the wrong time zone, plausible, but one answer among several.
    clock.observe(new Date(at + 6_000 + 10 * 3_600_000).toUTCString(), at + 6_000);
    expect(clock.atOrBefore(at + 10_000)).toBeLessThanOrEqual(before);
    expect(refused).toHaveLength(1);

    // Nor can it at start-up, when it is the first answer.
    const fresh = new GitLabClock();
    fresh.observe(new Date(at + 10 * 3_600_000).toUTCString(), at);
    expect(fresh.atOrBefore(at)).toBeLessThanOrEqual(at);
  });

  it("follows GitLab's clock once most recent answers tell it, and forgets old answers", () => {
    const clock = new GitLabClock();
    const at = Date.UTC(2026, 10, 24, 9, 0, 0);
    for (let i = 0; i < 7; i++) clock.observe(new Date(at + i * 1_000).toUTCString(), at + i * 1_000);
    expect(clock.atOrBefore(at + 7_000)).toBe(at + 7_000);
    // GitLab's clock is set 60 s ahead (NTP fixed it); after four of seven answers it is believed.
    for (let i = 7; i < 10; i++) clock.observe(new Date(at + i * 1_000 + 60_000).toUTCString(), at + i * 1_000);
    expect(clock.atOrBefore(at + 10_000)).toBe(at + 10_000);
    clock.observe(new Date(at + 70_000).toUTCString(), at + 10_000);
    expect(clock.atOrBefore(at + 10_000)).toBe(at + 70_000);
  });

  it("falls back to the local clock less a margin before GitLab answered", () => {
    const clock = new GitLabClock();
    expect(clock.known).toBe(false);
    expect(clock.atOrBefore(1_000_000)).toBeLessThan(1_000_000 - 60_000);
    clock.observe("not a date", 0);
    expect(clock.known).toBe(false);
  });
});
