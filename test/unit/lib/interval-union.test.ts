import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IntervalUnion } from "../../../src/lib/interval-union.js";

/** The union's length by brute force over whole units. */
function bruteLength(intervals: ReadonlyArray<readonly [number, number]>): number {
  const covered = new Set<number>();
  for (const [start, end] of intervals) for (let t = start; t < end; t++) covered.add(t);
  return covered.size;
}

describe("IntervalUnion", () => {
  it("merges overlapping and touching intervals added in any order", () => {
    const union = new IntervalUnion(Infinity);
    union.add(10, 20);
    union.add(30, 40);
    union.add(15, 32);
    expect(union.length()).toBe(30);
    expect(union.size).toBe(1);
    union.add(0, 5);
    union.add(5, 10);
    expect(union.length()).toBe(40);
    expect(union.size).toBe(1);
    union.add(50, 50);
    union.add(60, 55);
    expect(union.length()).toBe(40);
  });

  it("counts an extra interval once, over what it shares with the union", () => {
    const union = new IntervalUnion(Infinity);
    union.add(0, 10);
    union.add(20, 30);
    expect(union.length([5, 25])).toBe(30);
    expect(union.length([40, 50])).toBe(30);
    expect(union.length([-10, 100])).toBe(110);
    expect(union.length([25, 25])).toBe(20);
  });

  it("matches a brute-force union for any intervals", () => {
    const interval = fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 60 })).map(([s, l]) => [s, s + l] as const);
    fc.assert(
      fc.property(fc.array(interval, { maxLength: 30 }), interval, (intervals, extra) => {
        const union = new IntervalUnion(Infinity);
        for (const [s, e] of intervals) union.add(s, e);
        expect(union.length()).toBe(bruteLength(intervals));
        expect(union.length(extra)).toBe(bruteLength([...intervals, extra]));
      }),
    );
  });

  it("folds what ended long before the latest end, keeping its length, so memory stays bounded", () => {
    const union = new IntervalUnion(100);
    for (let i = 0; i < 1000; i++) union.add(i * 10, i * 10 + 5);
    expect(union.length()).toBe(5000);
    expect(union.size).toBeLessThanOrEqual(11);
    // A late interval reaching into the folded past counts only from where the fold ends.
    union.add(0, 9_900);
    expect(union.length()).toBeLessThan(5000 + 9_900);
    expect(union.length()).toBeGreaterThan(5000);
  });
});
