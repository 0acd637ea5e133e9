import { afterEach, describe, expect, it, vi } from "vitest";
import { sleep } from "../../../src/lib/sleep.js";

describe("sleep", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves after the given time", async () => {
    vi.useFakeTimers();
    let done = false;
    void sleep(1_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it("rejects with the signal's reason as soon as it aborts, and leaves no timer behind", async () => {
    vi.useFakeTimers();
    const abort = new AbortController();
    const waiting = sleep(60_000, abort.signal);
    abort.abort(new Error("shutting down"));
    await expect(waiting).rejects.toThrow("shutting down");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects at once when the signal already aborted", async () => {
    const abort = new AbortController();
    abort.abort(new Error("gone"));
    await expect(sleep(10, abort.signal)).rejects.toThrow("gone");
  });

  it("stops listening to the signal once it resolved", async () => {
    vi.useFakeTimers();
    const abort = new AbortController();
    const removed = vi.spyOn(abort.signal, "removeEventListener");
    const waiting = sleep(10, abort.signal);
    await vi.advanceTimersByTimeAsync(10);
    await waiting;
    expect(removed).toHaveBeenCalledWith("abort", expect.any(Function));
  });
});
