import { describe, expect, it } from "vitest";
import { RequestBudget } from "../../../../src/sources/gitlab/budget.js";

describe("RequestBudget", () => {
  it("spaces request starts evenly at the configured rate", async () => {
    const budget = new RequestBudget(20, 10);
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const release = await budget.acquire();
        starts.push(performance.now());
        release();
      }),
    );
    starts.sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(45);
  });

  it("never has more than maxConcurrent requests in flight", async () => {
    const budget = new RequestBudget(1000, 2);
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const release = await budget.acquire();
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight--;
        release();
      }),
    );
    expect(most).toBe(2);
  });

  it("holds every request until a pause ends", async () => {
    const budget = new RequestBudget(1000, 4);
    const pausedAt = Date.now();
    budget.pauseUntil(pausedAt + 150);
    const release = await budget.acquire();
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(145);
    release();
  });

  it("gives up waiting when its signal aborts, and frees the slot", async () => {
    const budget = new RequestBudget(1000, 1);
    const held = await budget.acquire();
    const controller = new AbortController();
    const waiting = budget.acquire(controller.signal);
    controller.abort(new Error("shutting down"));
    await expect(waiting).rejects.toThrow("shutting down");
    held();
    const again = await budget.acquire();
    again();
  });

  it("halves its rate after each slow-down, to 1/16 at the slowest, and grows back over five minutes", () => {
    let now = 1_000_000;
    const budget = new RequestBudget(8, 4, () => now);
    expect(budget.ratePerSecond).toBe(8);
    budget.slowDown();
    expect(budget.ratePerSecond).toBe(4);
    for (let i = 0; i < 5; i++) budget.slowDown();
    expect(budget.ratePerSecond).toBe(0.5);
    now += 150_000;
    expect(budget.ratePerSecond).toBeCloseTo(0.5 + 4, 9);
    // A slow-down halves the rate it finds, not the configured one.
    budget.slowDown();
    expect(budget.ratePerSecond).toBeCloseTo(2.25, 9);
    now += 300_000;
    expect(budget.ratePerSecond).toBe(8);
  });

  it("spaces request starts at the slowed rate", async () => {
    const budget = new RequestBudget(100, 10);
    budget.slowDown();
    budget.slowDown();
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const release = await budget.acquire();
        starts.push(performance.now());
        release();
      }),
    );
    starts.sort((a, b) => a - b);
    // 25 a second: 40 ms apart rather than 10.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(35);
  });
});
