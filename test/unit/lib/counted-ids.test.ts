import { describe, expect, it } from "vitest";
import { CountedIds } from "../../../src/lib/counted-ids.js";

describe("CountedIds", () => {
  it("remembers the last ids by id, and refuses by moment what the set forgot", () => {
    const now = 10_000;
    const ids = new CountedIds(3, () => now);
    for (const id of [1, 2, 3]) ids.add(id, id * 100);
    expect([1, 2, 3].every((id) => ids.has(id))).toBe(true);
    // Nothing forgotten yet: every moment is past the horizon.
    expect(ids.afterHorizon(0)).toBe(true);
    ids.add(4, 400);
    expect(ids.has(1)).toBe(false);
    // Id 1 (at 100) left: anything at or before 100 may be it.
    expect(ids.afterHorizon(100)).toBe(false);
    expect(ids.afterHorizon(101)).toBe(true);
  });

  it("adding an id twice changes nothing, the ring of moments included", () => {
    const ids = new CountedIds(2, () => 10_000);
    ids.add(1, 100);
    ids.add(1, 900);
    ids.add(2, 200);
    ids.add(3, 300);
    // Id 1 left at its first moment; id 2 is still remembered.
    expect(ids.has(2)).toBe(true);
    expect(ids.afterHorizon(101)).toBe(true);
    expect(ids.afterHorizon(100)).toBe(false);
  });

  it("never lets a moment from the future move the horizon past the clock", () => {
    let now = 1_000;
    const ids = new CountedIds(1, () => now);
    ids.add(1, Date.parse("9999-01-01T00:00:00Z"));
    ids.add(2, 500);
    now = 2_000;
    // Id 1 was remembered at now (1,000), not in year 9999.
    expect(ids.afterHorizon(1_500)).toBe(true);
    expect(ids.afterHorizon(1_000)).toBe(false);
  });
});
