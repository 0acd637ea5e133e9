import { describe, expect, it } from "vitest";
import { ByteBudget } from "../../../src/lib/byte-budget.js";

describe("ByteBudget", () => {
  it("grants reservations whole while they fit, and refuses the one that would not", () => {
    const budget = new ByteBudget(100);
    expect(budget.tryReserve(60)).toBe(true);
    expect(budget.tryReserve(40)).toBe(true);
    expect(budget.tryReserve(1)).toBe(false);
    expect(budget.inUse).toBe(100);
    budget.release(60);
    expect(budget.tryReserve(61)).toBe(false);
    expect(budget.tryReserve(60)).toBe(true);
    expect(budget.inUse).toBe(100);
  });

  it("refuses what is not a byte count, and never goes below zero", () => {
    const budget = new ByteBudget(10);
    expect(budget.tryReserve(-1)).toBe(false);
    expect(budget.tryReserve(Number.NaN)).toBe(false);
    expect(budget.tryReserve(11)).toBe(false);
    expect(budget.tryReserve(0)).toBe(true);
    budget.release(5);
    expect(budget.inUse).toBe(0);
    expect(budget.tryReserve(10)).toBe(true);
  });
});
