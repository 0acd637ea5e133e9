import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { repeat, startPaced } from "../../../../../src/sources/gitlab/poller/loops.js";

const log = pino({ level: "silent" });

/** A piece of work that takes `ms` of fake time. */
const takes = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("repeat", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts each run one interval after the start of the previous one, and goes on after a failure", async () => {
    vi.useFakeTimers({ now: 0 });
    const abort = new AbortController();
    const starts: number[] = [];
    const running = repeat(
      "test",
      async () => {
        starts.push(Date.now());
        await takes(300);
        if (starts.length === 2) throw new Error("GitLab down");
      },
      () => 1_000,
      { signal: abort.signal, now: Date.now, log, immediate: true },
    );
    await vi.advanceTimersByTimeAsync(3_500);
    expect(starts).toEqual([0, 1_000, 2_000, 3_000]);
    abort.abort();
    await running;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(starts).toHaveLength(4);
  });

  it("waits for the next turn of the event loop unless immediate", async () => {
    vi.useFakeTimers({ now: 0 });
    const abort = new AbortController();
    let runs = 0;
    const running = repeat("test", async () => void runs++, () => 1_000, { signal: abort.signal, now: Date.now, log, immediate: false });
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    abort.abort();
    await running;
  });
});

describe("startPaced", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts work at the period whatever each piece takes, never more than the bound at once", async () => {
    vi.useFakeTimers({ now: 0 });
    const abort = new AbortController();
    const inFlight = new Set<Promise<void>>();
    const starts: number[] = [];
    let most = 0;
    const running = startPaced({
      signal: abort.signal,
      now: Date.now,
      inFlight,
      maxConcurrent: 2,
      startNext: () => {
        starts.push(Date.now());
        const work = takes(starts.length <= 3 ? 250 : 1_000);
        most = Math.max(most, inFlight.size + 1);
        return work;
      },
      periodMs: () => 100,
    });
    await vi.advanceTimersByTimeAsync(550);
    // Two at the pace; from then on the bound holds each start until a piece ends (at 250, 350, 500 ms).
    expect(starts).toEqual([0, 100, 250, 350, 500]);
    expect(most).toBe(2);
    abort.abort();
    await vi.advanceTimersByTimeAsync(2_000);
    await running;
  });

  it("looks again after the given wait when there is nothing to start", async () => {
    vi.useFakeTimers({ now: 0 });
    const abort = new AbortController();
    const looks: number[] = [];
    const running = startPaced({
      signal: abort.signal,
      now: Date.now,
      inFlight: new Set(),
      maxConcurrent: 1,
      startNext: () => void looks.push(Date.now()) as undefined,
      periodMs: (started) => (started ? 10 : 100),
    });
    await vi.advanceTimersByTimeAsync(350);
    expect(looks).toEqual([0, 100, 200, 300]);
    abort.abort();
    await running;
  });
});
