import { describe, expect, it } from "vitest";
import type { JobObservation } from "../../src/domain/job.js";
import { JobStore, type JobFinished, type JobStarted } from "../../src/state/jobs.js";

function recorder() {
  const started: JobStarted[] = [];
  const finished: JobFinished[] = [];
  return { started, finished, events: { jobStarted: (e: JobStarted) => started.push(e), jobFinished: (e: JobFinished) => finished.push(e) } };
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
  it("tracks pending and running per project and tag set, with the oldest queued time", () => {
    const { events } = recorder();
    const store = new JobStore(events);
    store.apply(job({ id: 1, status: "pending", queuedAtMs: 5000 }), false);
    store.apply(job({ id: 2, status: "pending", queuedAtMs: 3000 }), false);
    store.apply(job({ id: 3, status: "running", tags: "" }), false);
    expect(store.totals().get(1)).toEqual(
      new Map([
        ["docker", { pending: 2, running: 0, oldestQueuedAtMs: 3000 }],
        ["", { pending: 0, running: 1, oldestQueuedAtMs: null }],
      ]),
    );
  });

  it("counts a finished job once, whichever source reports it and how often", () => {
    const rec = recorder();
    const store = new JobStore(rec.events);
    store.apply(job({ id: 7, status: "pending" }), false);
    const done = job({ id: 7, status: "failed", failureReason: "runner_system_failure", durationSeconds: 12, startedAtMs: 1, queuedDurationSeconds: 3 });
    expect(store.apply(done, false)).toBe("changed");
    expect(store.apply(done, true)).toBe("unchanged");
    expect(store.apply({ ...done, tags: null }, true)).toBe("unchanged");
    expect(rec.finished).toEqual([{ projectId: 1, status: "failed", failureReason: "runner_system_failure", runner: "", durationSeconds: 12 }]);
    expect(rec.started).toEqual([{ projectId: 1, queuedDurationSeconds: 3 }]);
    expect(store.liveCount).toBe(0);
  });

  it("does not count history: a job first seen finished counts only when the source says it is new", () => {
    const rec = recorder();
    const store = new JobStore(rec.events);
    expect(store.apply(job({ id: 1, status: "success" }), false)).toBe("unchanged");
    expect(store.apply(job({ id: 2, status: "success" }), true)).toBe("changed");
    expect(rec.finished.map((f) => f.status)).toEqual(["success"]);
  });

  it("never moves a job backwards on a late delivery", () => {
    const store = new JobStore(recorder().events);
    store.apply(job({ id: 1, status: "running" }), false);
    expect(store.apply(job({ id: 1, status: "pending" }), false)).toBe("unchanged");
    expect(store.totals().get(1)?.get("docker")).toEqual({ pending: 0, running: 1, oldestQueuedAtMs: null });
  });

  it("observes the queue wait once, and not for jobs already running when first seen", () => {
    const rec = recorder();
    const store = new JobStore(rec.events);
    store.apply(job({ id: 1, status: "running", startedAtMs: 1, queuedDurationSeconds: 9 }), false);
    store.apply(job({ id: 2, status: "pending" }), false);
    store.apply(job({ id: 2, status: "running", startedAtMs: 1, queuedDurationSeconds: 4 }), false);
    store.apply(job({ id: 2, status: "success", startedAtMs: 1, queuedDurationSeconds: 4, durationSeconds: 2 }), false);
    expect(rec.started).toEqual([{ projectId: 1, queuedDurationSeconds: 4 }]);
  });

  it("asks for details when a webhook reports a job it cannot place", () => {
    const store = new JobStore(recorder().events);
    expect(store.apply(job({ id: 1, status: "pending", tags: null }), true)).toBe("needs-details");
    expect(store.liveCount).toBe(0);
  });

  it("forgets dormant and skipped jobs without counting them", () => {
    const rec = recorder();
    const store = new JobStore(rec.events);
    store.apply(job({ id: 1, status: "created" }), false);
    store.apply(job({ id: 2, status: "created" }), false);
    store.apply(job({ id: 1, status: "manual" }), false);
    store.apply(job({ id: 2, status: "skipped" }), false);
    expect(store.liveCount).toBe(0);
    expect(rec.finished).toEqual([]);
  });

  it("treats a retry as a new job", () => {
    const rec = recorder();
    const store = new JobStore(rec.events);
    store.apply(job({ id: 1, status: "failed", failureReason: "script_failure" }), true);
    store.apply(job({ id: 2, status: "success" }), true);
    expect(rec.finished).toHaveLength(2);
  });
});
