import { describe, expect, it } from "vitest";
import { CountingGate } from "../../../src/lib/counting-gate.js";

describe("CountingGate", () => {
  it("counts at once when open", () => {
    const counted: number[] = [];
    new CountingGate({ open: true, holdMs: 1000, maxHeld: 10 }).pass(() => counted.push(1));
    expect(counted).toEqual([1]);
  });

  it("holds counts while closed, and opening from a moment makes those from it on, in order, then lets the rest through", () => {
    let now = 0;
    const gate = new CountingGate({ open: false, holdMs: 10_000, maxHeld: 10, now: () => now });
    const counted: string[] = [];
    for (const [at, name] of [[100, "a"], [200, "b"], [300, "c"]] as const) {
      now = at;
      gate.pass(() => counted.push(name));
    }
    expect(counted).toEqual([]);
    gate.openFrom(200);
    expect(counted).toEqual(["b", "c"]);
    gate.pass(() => counted.push("d"));
    expect(counted).toEqual(["b", "c", "d"]);
    expect(gate.heldCount).toBe(0);
  });

  it("forgets counts older than it holds them, and the oldest past its size", () => {
    let now = 0;
    const gate = new CountingGate({ open: false, holdMs: 1000, maxHeld: 2, now: () => now });
    const counted: number[] = [];
    for (let i = 0; i < 5; i++) {
      now = i * 400;
      gate.pass(() => counted.push(i));
    }
    // Two at most: each new count past two pushes the oldest out.
    expect(gate.heldCount).toBe(2);
    expect(gate.dropped).toBe(3);
    // Past a second, a count is forgotten whatever the room.
    now = 2_700;
    gate.pass(() => counted.push(5));
    expect(gate.heldCount).toBe(1);
    gate.openFrom(null);
    expect(counted).toEqual([5]);
  });
});
