import { describe, expect, it } from "vitest";
import { DEPARTED_CAPACITY, DEPARTED_TTL_MS, MAX_UNPLACED_JOBS, ProjectWatches } from "../../../../../src/sources/gitlab/poller/project-watch.js";
import { RecordingJobSink, RecordingProjectSink } from "../../../../helpers/fake-poller-world.js";

const project = (id: number, path = `team/svc-${id}`) => ({ id, path });

function world() {
  let now = 1_000;
  const jobs = new RecordingJobSink();
  const projects = new RecordingProjectSink();
  const watches = new ProjectWatches({ jobs, projects, now: () => now });
  return { jobs, projects, watches, setNow: (ms: number) => (now = ms) };
}

describe("ProjectWatches", () => {
  it("watches what discovery found, new projects before their first visit, and gives every readable one series", () => {
    const { projects, watches } = world();
    expect(watches.reconcile([project(1), project(2)])).toBe(2);
    expect(projects.calls).toEqual(["replaceAll 1,2"]);
    expect(watches.all().map((w) => [w.project.id, w.watermark, w.visited, w.resync])).toEqual([
      [1, null, false, false],
      [2, null, false, false],
    ]);
    // Unreadable: still watched, no series.
    watches.get(2)!.readable = false;
    expect(watches.reconcile([project(1), project(2)])).toBe(0);
    expect(projects.calls.at(-1)).toBe("replaceAll 1");
  });

  it("follows a renamed project with the same watch", () => {
    const { projects, watches } = world();
    watches.reconcile([project(1)]);
    const watch = watches.get(1)!;
    watch.watermark = 50;
    watches.reconcile([project(1, "team/renamed")]);
    expect(watches.get(1)).toBe(watch);
    expect(watch.project.path).toBe("team/renamed");
    expect(watch.watermark).toBe(50);
    expect([...projects.byId.values()]).toEqual([project(1, "team/renamed")]);
  });

  it("drops the jobs of a project discovery no longer lists, and resumes from its markers when it comes back", () => {
    const { jobs, watches } = world();
    watches.reconcile([project(1), project(2)]);
    Object.assign(watches.get(1)!, { watermark: 70, pipelinesSinceMs: 12_345, visited: true, lastActivityMs: 900 });
    const old = watches.get(1)!;
    watches.reconcile([project(2)]);
    expect(jobs.dropped).toEqual([1]);
    expect(watches.get(1)).toBeUndefined();
    expect(watches.departedCount).toBe(1);

    expect(watches.reconcile([project(1), project(2)])).toBe(1);
    const back = watches.get(1)!;
    expect(back).not.toBe(old);
    // Its markers, and a re-listing of its live jobs before it is trusted.
    expect([back.watermark, back.pipelinesSinceMs, back.visited, back.resync, back.lastActivityMs]).toEqual([70, 12_345, true, true, 0]);
    expect(watches.departedCount).toBe(0);
  });

  it("comes back as new when it had no baseline yet", () => {
    const { watches } = world();
    watches.reconcile([project(1)]);
    watches.reconcile([]);
    watches.reconcile([project(1)]);
    expect([watches.get(1)!.watermark, watches.get(1)!.visited, watches.get(1)!.resync]).toEqual([null, false, false]);
  });

  it("remembers departed projects for a day", () => {
    const { watches, setNow } = world();
    watches.reconcile([project(1), project(2)]);
    watches.get(1)!.watermark = 10;
    watches.get(2)!.watermark = 20;
    watches.reconcile([project(2)]);
    // A day later, the next departure forgets what is that old.
    setNow(1_000 + DEPARTED_TTL_MS);
    watches.reconcile([]);
    expect(watches.departedCount).toBe(1);
    watches.reconcile([project(1), project(2)]);
    expect(watches.get(1)!.watermark).toBeNull();
    expect(watches.get(2)!.watermark).toBe(20);
  });

  it("remembers at most DEPARTED_CAPACITY projects, forgetting the oldest departures first", () => {
    const { watches } = world();
    const all = Array.from({ length: DEPARTED_CAPACITY + 1 }, (_, i) => project(i + 1));
    watches.reconcile(all);
    for (const watch of watches.all()) watch.watermark = watch.project.id;
    watches.reconcile([]);
    expect(watches.departedCount).toBe(DEPARTED_CAPACITY);
    watches.reconcile([project(1), project(2)]);
    expect(watches.get(1)!.watermark).toBeNull();
    expect(watches.get(2)!.watermark).toBe(2);
  });

  it("notes webhook activity and unplaced jobs, up to a bound, for watched projects only", () => {
    const { watches, setNow } = world();
    watches.reconcile([project(1)]);
    setNow(5_000);
    const unplaced = Array.from({ length: MAX_UNPLACED_JOBS + 5 }, (_, i) => ({ jobId: i + 1, pipelineId: i % 2 === 0 ? 9 : null }));
    expect(watches.touched(1, unplaced)).toBe(true);
    const watch = watches.get(1)!;
    expect(watch.lastActivityMs).toBe(5_000);
    expect(watch.unplaced.size).toBe(MAX_UNPLACED_JOBS);
    expect([watch.unplaced.get(1), watch.unplaced.get(2)]).toEqual([9, null]);
    expect(watches.touched(2, unplaced)).toBe(false);
  });
});
