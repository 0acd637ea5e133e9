import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../../src/lib/backoff.js";

describe("backoffDelayMs", () => {
  it("waits nothing before a failure, then grows exponentially from the initial wait up to the cap", () => {
    const policy = { initialMs: 500, maxMs: 10_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(n, policy))).toEqual([0, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it("stays at the cap however many failures, and grows by the given factor", () => {
    expect(backoffDelayMs(5_000, { initialMs: 1_000, maxMs: 60_000 })).toBe(60_000);
    expect([1, 2, 3].map((n) => backoffDelayMs(n, { initialMs: 100, maxMs: 10_000, factor: 3 }))).toEqual([100, 300, 900]);
  });

  it("draws a share of the wait at random when asked, deterministically with the given source", () => {
    const policy = { initialMs: 1_000, maxMs: 8_000, jitter: 0.5 };
    expect(backoffDelayMs(2, { ...policy, random: () => 0 })).toBe(2_000);
    expect(backoffDelayMs(2, { ...policy, random: () => 0.5 })).toBe(1_500);
    expect(backoffDelayMs(10, { ...policy, random: () => 0.999 })).toBeCloseTo(4_004, 6);
    for (let i = 0; i < 100; i++) {
      const wait = backoffDelayMs(3, policy);
      expect(wait).toBeGreaterThan(2_000);
      expect(wait).toBeLessThanOrEqual(4_000);
    }
  });
});
