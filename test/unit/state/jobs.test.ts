import { describe, expect, it } from "vitest";
import type { JobObservation } from "../../../src/domain/job.js";
import type { JobFinished, JobStarted } from "../../../src/domain/events.js";
import { COUNTED_IDS_CAPACITY, JobStore, type JobStoreOptions } from "../../../src/state/jobs.js";

interface Recorded {
  jobStarted(event: JobStarted): void;
  jobFinished(event: JobFinished): void;
  jobInPipeline?(jobId: number, pipelineId: number): void;
}

function recorder() {
  const started: JobStarted[] = [];
  const finished: JobFinished[] = [];
  return { started, finished, events: { jobStarted: (e: JobStarted) => started.push(e), jobFinished: (e: JobFinished) => finished.push(e) } as Recorded };
}

/** A store whose news is recorded. */
function recordedStore(events: Recorded, options?: JobStoreOptions): JobStore {
  const store = new JobStore(options);
  store.onStarted.add((e) => events.jobStarted(e));
  store.onFinished.add((e) => events.jobFinished(e));
  store.onPipelineNamed.add(({ jobId, pipelineId }) => events.jobInPipeline?.(jobId, pipelineId));
  return store;
}

function job(overrides: Partial<JobObservation> & Pick<JobObservation, "id" | "status">): JobObservation {
  return {
    projectId: 1,
    tags: "docker",
    runner: "",
    failureReason: "",
    queuedDurationSeconds: null,
    durationSeconds: null,
    queuedAtMs: null,
    startedAtMs: null,
    ...overrides,
  };
}

describe("JobStore", () => {
  it("tells every job's pipeline a source names, finished and repeated ones too", () => {
    const pipelines: Array<[number, number]> = [];
    const store = recordedStore({ ...recorder().events, jobInPipeline: (jobId: number, pipelineId: number) => pipelines.push([jobId, pipelineId]) });
    store.apply(job({ id: 1, status: "pending", pipelineId: 40 }), "listing");
    store.apply(job({ id: 2, status: "running" }), "listing");
    store.apply(job({ id: 1, status: "success", pipelineId: 40, finishedAtMs: Date.now() }), "transition");
    expect(pipelines).toEqual([
      [1, 40],
      [1, 40],
    ]);
  });

  it("tracks pending and running per project and tag set, with the oldest queued time", () => {
    const { events } = recorder();
    const store = recordedStore(events);
    store.apply(job({ id: 1, status: "pending", queuedAtMs: 5000 }), "listing");
    store.apply(job({ id: 2, status: "pending", queuedAtMs: 3000 }), "listing");
    store.apply(job({ id: 3, status: "running", tags: "" }), "listing");
    expect(store.totals().get(1)).toEqual(
      new Map([
        ["docker", { pending: 2, running: 0, oldestQueuedAtMs: 3000 }],
        ["", { pending: 0, running: 1, oldestQueuedAtMs: null }],
      ]),
    );
  });

  it("counts a finished job once, whichever source reports it and how often", () => {
    const rec = recorder();
    const store = recordedStore(rec.events);
    store.apply(job({ id: 7, status: "pending" }), "listing");
    const done = job({ id: 7, status: "failed", failureReason: "runner_system_failure", durationSeconds: 12, startedAtMs: 1, queuedDurationSeconds: 3 });
    expect(store.apply(done, "listing")).toBe("changed");
    expect(store.apply(done, "transition")).toBe("unchanged");
    expect(store.apply({ ...done, tags: null }, "transition")).toBe("unchanged");
    expect(rec.finished).toEqual([{ jobId: 7, projectId: 1, status: "failed", failureReason: "runner_system_failure", runner: "", durationSeconds: 12 }]);
    expect(rec.started).toEqual([{ projectId: 1, queuedDurationSeconds: 3 }]);
    expect(store.liveCount).toBe(0);
  });

  it("does not count history: a job first seen finished counts only when the source says it is new", () => {
    const rec = recorder();
    const store = recordedStore(rec.events);
    expect(store.apply(job({ id: 1, status: "success" }), "listing")).toBe("unchanged");
    expect(store.apply(job({ id: 2, status: "success" }), "transition")).toBe("changed");
    expect(rec.finished.map((f) => f.status)).toEqual(["success"]);
  });

  it("counts a job first seen finished only if it finished at or after the start, whatever the source says", () => {
    const rec = recorder();
    const START = 1_000_000;
    const store = recordedStore(rec.events, { countFinishedSinceMs: START });
    // A Pipeline Hook after a restart lists the builds of earlier stages, finished before the start.
    expect(store.apply(job({ id: 1, status: "success", finishedAtMs: START - 60_000 }), "listing")).toBe("unchanged");
    expect(store.apply(job({ id: 2, status: "failed", failureReason: "script_failure", finishedAtMs: START - 1 }), "transition")).toBe("unchanged");
    expect(store.apply(job({ id: 3, status: "success", finishedAtMs: START }), "listing")).toBe("changed");
    expect(store.apply(job({ id: 4, status: "canceled", finishedAtMs: START + 5_000 }), "listing")).toBe("changed");
    // Without a timestamp the source decides.
    expect(store.apply(job({ id: 5, status: "success" }), "listing")).toBe("unchanged");
    expect(store.apply(job({ id: 6, status: "success" }), "transition")).toBe("changed");
    // A job tracked while live is counted when it finishes, whenever that was.
    store.apply(job({ id: 7, status: "running", startedAtMs: START - 10_000 }), "listing");
    expect(store.apply(job({ id: 7, status: "success", finishedAtMs: START - 1 }), "listing")).toBe("changed");
    expect(rec.finished).toHaveLength(4);
    // Its queue wait ended before the start: not observed.
    expect(rec.started).toEqual([]);
  });

  it("counts from the moment it is told, as a replica taking its shard over does: later than its start, or earlier", () => {
    const rec = recorder();
    const START = 1_000_000;
    const store = recordedStore(rec.events, { countFinishedSinceMs: START });
    store.apply(job({ id: 1, status: "running", startedAtMs: START + 1_000 }), "listing");
    store.countFrom(START + 50_000);
    expect(store.apply(job({ id: 2, status: "success", finishedAtMs: START + 49_999 }), "listing")).toBe("unchanged");
    expect(store.apply(job({ id: 3, status: "success", finishedAtMs: START + 50_000 }), "listing")).toBe("changed");
    // A job it tracked live still counts when it ends.
    expect(store.apply(job({ id: 1, status: "success", finishedAtMs: START + 20_000 }), "listing")).toBe("changed");
    // Restarted in its own place: what finished while it was down counts.
    store.countFrom(START - 30_000);
    expect(store.apply(job({ id: 4, status: "success", finishedAtMs: START - 10_000 }), "listing")).toBe("changed");
    expect(rec.finished.map((f) => f.jobId)).toEqual([3, 1, 4]);
  });

  it("refuses a forgotten counted job reported again, by the finish times of the ids it forgot", () => {
    const rec = recorder();
    const store = recordedStore(rec.events, { countFinishedSinceMs: 0 });
    const finishedAt = (id: number) => 10_000 + id;
    for (let id = 1; id <= COUNTED_IDS_CAPACITY + 10; id++) store.apply(job({ id, status: "success", finishedAtMs: finishedAt(id) }), "listing");
    expect(rec.finished).toHaveLength(COUNTED_IDS_CAPACITY + 10);
    // Ids 1..10 left the set; a late Pipeline Hook or pipeline read lists them again.
    for (let id = 1; id <= 10; id++) expect(store.apply(job({ id, status: "success", finishedAtMs: finishedAt(id) }), "listing")).toBe("unchanged");
    // A job that finished after the newest forgotten one is still counted.
    expect(store.apply(job({ id: COUNTED_IDS_CAPACITY + 100, status: "success", finishedAtMs: finishedAt(11) }), "listing")).toBe("changed");
    expect(rec.finished).toHaveLength(COUNTED_IDS_CAPACITY + 11);
  });

  it("never lets one far-future finish refuse later jobs once its id is forgotten", () => {
    const rec = recorder();
    let now = 1_000_000;
    const store = recordedStore(rec.events, { countFinishedSinceMs: 0, now: () => now });
    // One finish in year 9999 (a clock gone wrong, a forged hook), then enough to forget its id.
    store.apply(job({ id: 1, status: "success", finishedAtMs: Date.UTC(9999, 11, 31) }), "transition");
    for (let id = 2; id <= COUNTED_IDS_CAPACITY + 1; id++) store.apply(job({ id, status: "success", finishedAtMs: now - 1 }), "listing");
    now += 60_000;
    // Jobs first seen already finished, after the store's own clock moved on, are still counted.
    expect(store.apply(job({ id: COUNTED_IDS_CAPACITY + 10, status: "success", finishedAtMs: now - 1_000 }), "listing")).toBe("changed");
    expect(store.apply(job({ id: COUNTED_IDS_CAPACITY + 11, status: "failed", failureReason: "script_failure", finishedAtMs: now }), "listing")).toBe("changed");
    // The forgotten far-future job itself, reported again, is refused: remembered as finished at its count.
    expect(store.apply(job({ id: 1, status: "success", finishedAtMs: 1_000_000 }), "listing")).toBe("unchanged");
    expect(rec.finished).toHaveLength(COUNTED_IDS_CAPACITY + 3);
  });

  it("keeps a live job's tag list cut to the label value cap, alike lists one group", () => {
    const store = recordedStore(recorder().events, { labelValueMaxBytes: 256 });
    const long = "t".repeat(300);
    store.apply(job({ id: 1, status: "pending", tags: `${long},a` }), "listing");
    store.apply(job({ id: 2, status: "pending", tags: `${long},b` }), "listing");
    const groups = [...store.totals().get(1)!];
    expect(groups).toHaveLength(1);
    expect(Buffer.byteLength(groups[0]![0])).toBeLessThanOrEqual(256);
    expect(groups[0]![0].endsWith("…")).toBe(true);
    expect(groups[0]![1].pending).toBe(2);
  });

  it("does not call a project busy for jobs left created behind a manual gate", () => {
    let now = 0;
    const store = recordedStore(recorder().events, { now: () => now });
    store.apply(job({ id: 1, status: "created" }), "listing");
    expect(store.hasActiveJobs(1, 60_000)).toBe(true);
    now = 61_000;
    expect(store.hasLiveJobs(1)).toBe(true);
    expect(store.hasActiveJobs(1, 60_000)).toBe(false);
    // The gate opens: the job moves and the project is busy again.
    store.apply(job({ id: 1, status: "pending" }), "listing");
    expect(store.hasActiveJobs(1, 60_000)).toBe(true);
    now = 10_000_000;
    expect(store.hasActiveJobs(1, 60_000)).toBe(true);
  });

  it("never moves a job backwards on a late delivery", () => {
    const store = recordedStore(recorder().events);
    store.apply(job({ id: 1, status: "running" }), "listing");
    expect(store.apply(job({ id: 1, status: "pending" }), "listing")).toBe("unchanged");
    expect(store.totals().get(1)?.get("docker")).toEqual({ pending: 0, running: 1, oldestQueuedAtMs: null });
  });

  it("observes the queue wait once, and not for jobs already running since before the start", () => {
    const rec = recorder();
    const store = recordedStore(rec.events, { countFinishedSinceMs: 100 });
    store.apply(job({ id: 1, status: "running", startedAtMs: 1, queuedDurationSeconds: 9 }), "listing");
    store.apply(job({ id: 2, status: "pending" }), "listing");
    store.apply(job({ id: 2, status: "running", startedAtMs: 1, queuedDurationSeconds: 4 }), "listing");
    store.apply(job({ id: 2, status: "success", startedAtMs: 1, queuedDurationSeconds: 4, durationSeconds: 2 }), "listing");
    expect(rec.started).toEqual([{ projectId: 1, queuedDurationSeconds: 4 }]);
  });

  it("asks for details when a webhook reports a job it cannot place", () => {
    const store = recordedStore(recorder().events);
    expect(store.apply(job({ id: 1, status: "pending", tags: null }), "transition")).toBe("needs-details");
    expect(store.liveCount).toBe(0);
  });

  it("forgets dormant and skipped jobs without counting them", () => {
    const rec = recorder();
    const store = recordedStore(rec.events);
    store.apply(job({ id: 1, status: "created" }), "listing");
    store.apply(job({ id: 2, status: "created" }), "listing");
    store.apply(job({ id: 1, status: "manual" }), "listing");
    store.apply(job({ id: 2, status: "skipped" }), "listing");
    expect(store.liveCount).toBe(0);
    expect(rec.finished).toEqual([]);
  });

  it("treats a retry as a new job", () => {
    const rec = recorder();
    const store = recordedStore(rec.events);
    store.apply(job({ id: 1, status: "failed", failureReason: "script_failure" }), "transition");
    store.apply(job({ id: 2, status: "success" }), "transition");
    expect(rec.finished).toHaveLength(2);
  });
});
