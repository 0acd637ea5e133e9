import { describe, expect, it } from "vitest";
import { StringPool } from "../../../src/lib/string-pool.js";

describe("StringPool", () => {
  it("keeps one copy of each string however often it is seen", () => {
    const pool = new StringPool(10);
    for (let i = 0; i < 100; i++) expect(pool.intern(`gitlab-runner-${i % 3}`)).toBe(`gitlab-runner-${i % 3}`);
    expect(pool.size).toBe(3);
  });

  it("keeps no empty string", () => {
    const pool = new StringPool(10);
    expect(pool.intern("")).toBe("");
    expect(pool.size).toBe(0);
  });

  it("holds at most its capacity, forgetting the oldest first", () => {
    const pool = new StringPool(3);
    for (const value of ["a", "b", "c", "d"]) pool.intern(value);
    expect(pool.size).toBe(3);
    pool.intern("b");
    expect(pool.size).toBe(3);
    pool.intern("a");
    expect(pool.size).toBe(3);
  });

  it("makes a value once per key, and hands out that one, frozen", () => {
    const pool = new StringPool(10);
    let made = 0;
    const make = () => ({ cpu: 0.5, made: ++made });
    const first = pool.shared("resources:0.5", make);
    expect(pool.shared("resources:0.5", make)).toBe(first);
    expect(made).toBe(1);
    expect(Object.isFrozen(first)).toBe(true);
    expect(pool.shared("resources:1", make)).toEqual({ cpu: 0.5, made: 2 });
    expect(pool.valueCount).toBe(2);
  });
});
