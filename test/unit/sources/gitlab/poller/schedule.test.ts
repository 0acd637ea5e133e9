import { afterEach, describe, expect, it, vi } from "vitest";
import type { ProjectWatch } from "../../../../../src/sources/gitlab/poller/project-watch.js";
import { EXPEDITE_DELAY_MS, ExpeditedVisits, MAX_FAILURE_BACKOFF_MS, NOTHING_TO_VISIT_DELAY_MS, Schedule } from "../../../../../src/sources/gitlab/poller/schedule.js";
import { freshWatch } from "../../../../helpers/fake-poller-world.js";

const OPTIONS = { pollIntervalMs: 5_000, discoveryIntervalMs: 300_000, idleRequestsPerSecond: 4, hotProjectTtlMs: 60_000 };

function schedule(active: Set<number> = new Set()) {
  return new Schedule(OPTIONS, { hasActiveJobs: (projectId) => active.has(projectId) });
}

const visited = (id: number, overrides: Partial<ProjectWatch> = {}) => freshWatch(id, { watermark: 100, visited: true, pipelinesSinceMs: 0, ...overrides });

/** Takes round visits one after another, each finished before the next, as `"<id>:<kind>"`. */
function takeRound(s: Schedule, watches: ProjectWatch[], count: number, now = 0): string[] {
  const taken: string[] = [];
  for (let i = 0; i < count; i++) {
    const next = s.nextRoundVisit(watches, now);
    if (!next) break;
    taken.push(`${next.watch.project.id}:${next.kind}`);
    s.claim(next.watch.project.id, next.kind)!();
  }
  return taken;
}

describe("Schedule", () => {
  it("visits projects never visited (baselines) and re-listings before any project's turn in the round", () => {
    const s = schedule();
    const watches = [visited(1), freshWatch(2), visited(3, { resync: true }), freshWatch(4)];
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const next = s.nextRoundVisit(watches, 0)!;
      order.push(`${next.watch.project.id}:${next.kind}`);
      // Still under way: the next call must pick another project.
      s.claim(next.watch.project.id, next.kind);
    }
    expect(order).toEqual(["2:baseline", "3:resync", "4:baseline"]);
    // Every first visit is under way: the round goes on with the only project past its baseline.
    expect(takeRound(s, watches, 1)).toEqual(["1:pipelines"]);
  });

  it("goes round-robin in a fixed order, skipping projects that back off or are being checked", () => {
    const s = schedule();
    const watches = [visited(1), visited(2), visited(3), visited(4)];
    expect(takeRound(s, watches, 6)).toEqual(["1:pipelines", "2:pipelines", "3:pipelines", "4:pipelines", "1:pipelines", "2:pipelines"]);

    watches[3]!.notBeforeMs = 10_000;
    const release = s.claim(1, "pipelines")!;
    expect(takeRound(s, watches, 3)).toEqual(["3:pipelines", "2:pipelines", "3:pipelines"]);
    release();
    // Backoff over: project 4 has its turn again, where the order left off.
    expect(takeRound(s, watches, 4, 10_000)).toEqual(["4:pipelines", "1:pipelines", "2:pipelines", "3:pipelines"]);
  });

  it("spaces round visits by the idle rate, and not at all while a first visit is due", () => {
    const s = schedule();
    const watches = [visited(1), freshWatch(2)];
    expect(s.roundPeriodMs(watches, 0, true)).toBe(0);
    s.claim(2, "baseline");
    expect(s.roundPeriodMs(watches, 0, true)).toBe(250);
    expect(s.roundPeriodMs(watches, 0, false)).toBe(NOTHING_TO_VISIT_DELAY_MS);
    // A project waiting out its backoff is not due.
    expect(s.roundPeriodMs([visited(1), freshWatch(3, { notBeforeMs: 1 })], 0, true)).toBe(250);
  });

  it("takes the first visits a sweep asked for (urgent) before the other first visits, in order, when due", () => {
    const s = schedule();
    const watches = [freshWatch(1), visited(2, { resync: true }), freshWatch(3, { urgent: true }), visited(4, { resync: true, urgent: true }), freshWatch(5, { urgent: true, notBeforeMs: 1 }), freshWatch(6, { urgent: true })];
    s.claim(6, "hot");
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const next = s.nextRoundVisit(watches, 0)!;
      order.push(`${next.watch.project.id}:${next.kind}`);
      // Still under way: the next call must pick another project.
      s.claim(next.watch.project.id, next.kind);
    }
    // 5 backs off and 6 is being scanned: not due, urgent or not.
    expect(order).toEqual(["3:baseline", "4:resync", "1:baseline", "2:resync"]);
    expect(s.nextRoundVisit([freshWatch(7), freshWatch(5, { urgent: true, notBeforeMs: 1 })], 1)?.watch.project.id).toBe(5);
  });

  it("with a sweep showing every live job, spaces first visits by the idle rate too, except those it asked for", () => {
    const s = schedule();
    const watches = [visited(1), freshWatch(2), visited(3, { resync: true })];
    expect(s.roundPeriodMs(watches, 0, true, false)).toBe(0);
    expect(s.roundPeriodMs(watches, 0, true, true)).toBe(250);
    watches[2]!.urgent = true;
    expect(s.roundPeriodMs(watches, 0, true, true)).toBe(0);
    // An urgent one not due (backing off, or being scanned) does not hurry the round.
    watches[2]!.notBeforeMs = 1;
    expect(s.roundPeriodMs(watches, 0, true, true)).toBe(250);
    expect(s.roundPeriodMs(watches, 1, true, true)).toBe(0);
    const release = s.claim(3, "resync")!;
    expect(s.roundPeriodMs(watches, 1, true, true)).toBe(250);
    release();
    expect(s.roundPeriodMs(watches, 1, false, true)).toBe(NOTHING_TO_VISIT_DELAY_MS);
  });

  it("polls hot projects past their baseline and their backoff; unreadable projects are never hot", () => {
    const active = new Set([1, 5]);
    const s = schedule(active);
    const now = 1_000_000;
    const watches = [
      visited(1),
      visited(2, { lastActivityMs: now - 59_999 }),
      visited(3, { lastActivityMs: now - 60_000 }),
      freshWatch(4, { lastActivityMs: now }),
      visited(5, { notBeforeMs: now + 1 }),
      visited(6, { lastActivityMs: now, readable: false }),
    ];
    expect(s.hotVisits(watches, now).map((w) => w.project.id)).toEqual([1, 2]);
    expect(watches.filter((w) => s.isHot(w, now)).map((w) => w.project.id)).toEqual([1, 2, 4, 5]);
  });

  it("lets a scan and a pipelines check of one project run at once, never two of the same kind", () => {
    const s = schedule();
    const scan = s.claim(1, "hot")!;
    expect(s.claim(1, "expedited")).toBeNull();
    expect(s.claim(1, "resync")).toBeNull();
    const check = s.claim(1, "pipelines")!;
    expect(check).toBeTypeOf("function");
    expect(s.claim(1, "pipelines")).toBeNull();
    expect(s.claim(2, "hot")).not.toBeNull();
    scan();
    expect(s.claim(1, "resync")).toBeNull();
    check();
    expect(s.claim(1, "resync")).not.toBeNull();
  });

  it("backs off a failing project from one poll interval, doubling up to ten minutes", () => {
    const s = schedule();
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => s.failureBackoffMs(n))).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, MAX_FAILURE_BACKOFF_MS]);
    expect(s.failureBackoffMs(1_000)).toBe(MAX_FAILURE_BACKOFF_MS);
  });

  it("retries a failing discovery from one second, doubling up to 256 s or the interval", () => {
    const s = schedule();
    expect(s.discoveryDelayMs(0)).toBe(300_000);
    expect([1, 2, 3, 9, 10, 50].map((n) => s.discoveryDelayMs(n))).toEqual([1_000, 2_000, 4_000, 256_000, 256_000, 256_000]);
    const short = new Schedule({ ...OPTIONS, discoveryIntervalMs: 5_000 }, { hasActiveJobs: () => false });
    expect([1, 3, 4, 20].map((n) => short.discoveryDelayMs(n))).toEqual([1_000, 4_000, 5_000, 5_000]);
  });
});

describe("ExpeditedVisits", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("visits every project named within the delay once, together, after the delay", async () => {
    vi.useFakeTimers();
    const visits: number[] = [];
    const expedited = new ExpeditedVisits((id) => visits.push(id));
    expedited.add(7);
    await vi.advanceTimersByTimeAsync(100);
    expedited.add(9);
    expedited.add(7);
    await vi.advanceTimersByTimeAsync(EXPEDITE_DELAY_MS - 101);
    expect(visits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(visits).toEqual([7, 9]);
    // A later request starts a new window.
    expedited.add(7);
    await vi.advanceTimersByTimeAsync(EXPEDITE_DELAY_MS);
    expect(visits).toEqual([7, 9, 7]);
  });

  it("visits nothing once cancelled", async () => {
    vi.useFakeTimers();
    const visits: number[] = [];
    const expedited = new ExpeditedVisits((id) => visits.push(id));
    expedited.add(1);
    expedited.cancel();
    await vi.advanceTimersByTimeAsync(EXPEDITE_DELAY_MS * 4);
    expect(visits).toEqual([]);
  });
});
