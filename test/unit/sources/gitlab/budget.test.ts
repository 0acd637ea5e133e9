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
});
