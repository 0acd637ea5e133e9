import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../../src/lib/bounded-map.js";

describe("BoundedMap", () => {
  it("forgets the oldest entry past its capacity, whatever was read since", () => {
    const map = new BoundedMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    expect(map.get("a")).toBe(1);
    map.set("c", 3);
    expect([...map.keys()]).toEqual(["b", "c"]);
    expect(map.has("a")).toBe(false);
    expect(map.size).toBe(2);
  });

  it("keeps a key's place when set again, and moves it to the back when touched", () => {
    const map = new BoundedMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    map.set("a", 10);
    map.set("c", 3);
    expect([...map]).toEqual([["b", 2], ["c", 3]]);
    map.touch("b", 20);
    map.set("d", 4);
    expect([...map]).toEqual([["b", 20], ["d", 4]]);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
    expect(() => new BoundedMap(1.5)).toThrow(RangeError);
  });
});
