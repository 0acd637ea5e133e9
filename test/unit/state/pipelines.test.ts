import { describe, expect, it } from "vitest";
import type { PipelineFinished } from "../../../src/domain/events.js";
import type { PipelineObservation } from "../../../src/domain/pipeline.js";
import { PipelineStore, type PipelineStoreOptions } from "../../../src/state/pipelines.js";

const START = Date.parse("2026-03-10T09:00:00Z");

function setup(options: PipelineStoreOptions = {}) {
  let now = START + 60_000;
  const store = new PipelineStore({ countFinishedSinceMs: START, now: () => now, ...options });
  const finished: PipelineFinished[] = [];
  store.onFinished.add((e) => finished.push(e));
  return { store, finished, advance: (ms: number) => (now += ms) };
}

function pipeline(id: number, status: string, finishedAtMs: number | null = START + 1_000, projectId = 1): PipelineObservation {
  return { id, projectId, status, finishedAtMs };
}

describe("PipelineStore", () => {
  it("counts each pipeline once, at its first final status, however many sources and repeats report it", () => {
    const { store, finished } = setup();
    expect(store.apply(pipeline(10, "running", null), "transition")).toBe("unchanged");
    expect(store.apply(pipeline(10, "success"), "transition")).toBe("changed");
    // The pipelines check lists it later, a hook is re-sent, a retry fails it: nothing new.
    expect(store.apply(pipeline(10, "success", START + 5_000), "listing")).toBe("unchanged");
    expect(store.apply(pipeline(10, "success"), "transition")).toBe("unchanged");
    expect(store.apply(pipeline(10, "running", null), "transition")).toBe("unchanged");
    expect(store.apply(pipeline(10, "failed", START + 9_000), "transition")).toBe("unchanged");
    expect(finished).toEqual([{ pipelineId: 10, projectId: 1, status: "success" }]);
  });

  it("counts the four final statuses and nothing else", () => {
    const { store, finished } = setup();
    const statuses = ["created", "pending", "running", "canceling", "manual", "scheduled", "waiting_for_resource", "preparing", "something_new", "success", "failed", "canceled", "skipped"];
    statuses.forEach((status, i) => store.apply(pipeline(i + 1, status), "listing"));
    expect(finished.map((e) => e.status)).toEqual(["success", "failed", "canceled", "skipped"]);
  });

  it("counts only what finished under its watch: by time, and without one only a reported transition", () => {
    const { store, finished } = setup();
    // Finished before the exporter started: history, from any source.
    expect(store.apply(pipeline(1, "success", START - 1), "transition")).toBe("unchanged");
    expect(store.apply(pipeline(2, "failed", START - 60_000), "listing")).toBe("unchanged");
    // At the start itself it counts.
    expect(store.apply(pipeline(3, "canceled", START), "listing")).toBe("changed");
    // No time (a skipped pipeline has no finished_at): a hook reports the change itself, a listing may be history.
    expect(store.apply(pipeline(4, "skipped", null), "listing")).toBe("unchanged");
    expect(store.apply(pipeline(4, "skipped", null), "transition")).toBe("changed");
    expect(finished.map((e) => e.pipelineId)).toEqual([3, 4]);
  });

  it("in bounded memory, refuses a forgotten pipeline reported again rather than count it twice", () => {
    const { store, finished } = setup({ countedIdsCapacity: 3 });
    for (let id = 1; id <= 5; id++) store.apply(pipeline(id, "success", START + id * 1_000), "listing");
    expect(finished).toHaveLength(5);
    // Pipelines 1 and 2 left the set; reported again, their times place them behind the horizon.
    expect(store.apply(pipeline(1, "success", START + 1_000), "listing")).toBe("unchanged");
    expect(store.apply(pipeline(2, "success", START + 2_000), "transition")).toBe("unchanged");
    // A pipeline that finished later than every forgotten one still counts.
    expect(store.apply(pipeline(6, "failed", START + 2_500), "listing")).toBe("changed");
    expect(finished).toHaveLength(6);
  });

  it("counts every final pipeline when no start is given", () => {
    const store = new PipelineStore();
    const finished: PipelineFinished[] = [];
    store.onFinished.add((e) => finished.push(e));
    store.apply(pipeline(1, "success", 0), "listing");
    expect(finished).toHaveLength(1);
  });

  it("counts from a later moment after countFrom, as a replica taking its shard over does", () => {
    const { store, finished } = setup();
    store.countFrom(START + 30_000);
    expect(store.apply(pipeline(20, "success", START + 10_000), "listing")).toBe("unchanged");
    expect(store.apply(pipeline(21, "failed", START + 40_000), "listing")).toBe("changed");
    expect(finished.map((e) => e.pipelineId)).toEqual([21]);
  });
});
