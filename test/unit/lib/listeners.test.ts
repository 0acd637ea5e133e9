import { describe, expect, it } from "vitest";
import { Listeners } from "../../../src/lib/listeners.js";

describe("Listeners", () => {
  it("calls every listener with each event, in the order they were added", () => {
    const heard: string[] = [];
    const listeners = new Listeners<number>();
    listeners.emit(0);
    listeners.add((n) => heard.push(`first ${n}`));
    listeners.add((n) => heard.push(`second ${n}`));
    listeners.emit(1);
    listeners.emit(2);
    expect(heard).toEqual(["first 1", "second 1", "first 2", "second 2"]);
  });
});
