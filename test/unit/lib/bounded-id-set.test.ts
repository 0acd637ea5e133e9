import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BoundedIdSet } from "../../../src/lib/bounded-id-set.js";

describe("bounded id set", () => {
  it("remembers exactly the last `capacity` distinct ids, like a Set that drops its oldest", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), { maxLength: 500 }), (capacity, ids) => {
        const ours = new BoundedIdSet(capacity);
        const model = new Set<number>();
        for (const id of ids) {
          expect(ours.has(id)).toBe(model.has(id));
          ours.add(id);
          if (!model.has(id)) {
            model.add(id);
            if (model.size > capacity) model.delete(model.values().next().value!);
          }
          expect(ours.size).toBe(model.size);
        }
        for (let probe = 1; probe <= 200; probe++) expect(ours.has(probe)).toBe(model.has(probe));
        for (const id of ids) expect(ours.has(id)).toBe(model.has(id));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses ids it cannot hold", () => {
    const set = new BoundedIdSet(4);
    expect(() => set.add(0)).toThrow(RangeError);
    expect(() => set.add(-3)).toThrow(RangeError);
    expect(() => set.add(1.5)).toThrow(RangeError);
    expect(() => new BoundedIdSet(0)).toThrow(RangeError);
  });
});
