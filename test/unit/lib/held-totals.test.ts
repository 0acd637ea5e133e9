import { describe, expect, it } from "vitest";
import { HeldTotals } from "../../../src/lib/held-totals.js";

const read = (totals: HeldTotals<"a">) => Object.fromEntries([...totals.values()].map((e) => [e.labels.a, [...e.values]]));

describe("HeldTotals", () => {
  it("reads settled plus live amounts, per label set and value", () => {
    const totals = new HeldTotals<"a">(["a"], 2);
    const x = totals.slot({ a: "x" });
    totals.add(x, [1, 10], 0);
    totals.add(totals.slot({ a: "x" }), [2, 20], 0);
    totals.read(5, (add) => {
      add(x, [0.5, 5]);
      add(totals.slot({ a: "y" }), [1, 1]);
    });
    expect(read(totals)).toEqual({ x: [3.5, 35], y: [1, 1] });
  });

  it("never reads lower than before, and follows the truth again once it passes", () => {
    const totals = new HeldTotals<"a">(["a"], 1);
    const x = totals.slot({ a: "x" });
    totals.read(1, (add) => add(x, [10]));
    // The live part turned out shorter: 4 settled for good, nothing live.
    totals.add(x, [4], 2);
    totals.read(2, () => undefined);
    expect(read(totals)).toEqual({ x: [10] });
    totals.read(3, (add) => add(x, [7]));
    expect(read(totals)).toEqual({ x: [11] });
  });

  it("forgets label sets whose truth last grew before the cut-off, never those still growing; a forgotten slot comes back from zero", () => {
    const totals = new HeldTotals<"a">(["a"], 1);
    const old = totals.slot({ a: "old" });
    totals.add(old, [1], 100);
    totals.add(totals.slot({ a: "live" }), [1], 100);
    totals.read(1000, (add) => add(totals.slot({ a: "live" }), [1]), 500);
    expect(Object.keys(read(totals))).toEqual(["live"]);
    expect(totals.size).toBe(1);
    totals.add(old, [3], 1100);
    totals.read(1200, () => undefined, 500);
    expect(read(totals)).toEqual({ live: [2], old: [3] });
  });

  it("keeps at most its capacity of label sets, forgetting a tenth of those that grew longest ago, never one held", () => {
    const totals = new HeldTotals<"a">(["a"], 1, 20);
    const forgotten: number[] = [];
    totals.onForgotten.add((n) => forgotten.push(n));
    const live = totals.slot({ a: "live" });
    totals.hold(live);
    totals.read(0, (add) => add(live, [1]));
    for (let i = 0; i < 100; i++) totals.add(totals.slot({ a: `ref-${i}` }), [1], 1000 + i);
    expect(totals.size).toBeLessThanOrEqual(20);
    expect(forgotten.reduce((a, b) => a + b, 0)).toBe(101 - totals.size);
    expect(forgotten.every((n) => n === 2)).toBe(true);
    const kept = [...totals.values()].map((e) => e.labels.a);
    expect(kept).toContain("ref-99");
    expect(kept).toContain("live");
    expect(kept).not.toContain("ref-0");
  });
});
