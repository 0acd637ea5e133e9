import { ignoreRejections } from "../../../../../src/lib/rejections.js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { GitLabClock } from "../../../../../src/sources/gitlab/clock.js";
import { JobScan } from "../../../../../src/sources/gitlab/poller/job-scan.js";
import { PIPELINES_OVERLAP_MS, PipelineCheck } from "../../../../../src/sources/gitlab/poller/pipeline-check.js";
import type { ProjectWatch } from "../../../../../src/sources/gitlab/poller/project-watch.js";
import { FakeGitLabApi, freshWatch, RecordingJobSink } from "../../../../helpers/fake-poller-world.js";

const log = pino({ level: "silent" });
const NOW = Date.parse("2026-12-07T12:00:00Z");

function world() {
  const api = new FakeGitLabApi(() => NOW);
  const jobs = new RecordingJobSink();
  const clock = new GitLabClock(() => NOW);
  const tally = { count: 0, answered() { this.count++; } };
  const answeredFor: number[] = [];
  const rejections = ignoreRejections;
  const pipelines = new PipelineCheck({ api, jobs, clock, tally, now: () => NOW, rejections });
  const scan = new JobScan({ api, jobs, pipelines, tally, answered: (w: ProjectWatch) => answeredFor.push(w.project.id), log, now: () => NOW, rejections });
  return { api, jobs, tally, scan, answeredFor, clock };
}

describe("JobScan", () => {
  it("takes a baseline from one small page, lists live jobs when it did not read the whole history, and starts the pipelines cursor", async () => {
    const { api, jobs, scan, tally, answeredFor, clock } = world();
    for (let id = 1; id <= 30; id++) api.addJob(1, id, id === 3 ? "pending" : "success");
    const watch = freshWatch(1);
    await scan.scan(watch, "baseline");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=20", "live jobs project=1"]);
    expect(watch.watermark).toBe(30);
    expect(watch.pipelinesSinceMs).toBe(clock.atOrBefore(NOW) - PIPELINES_OVERLAP_MS);
    // A baseline is history: nothing it reads is new.
    expect(jobs.applied.filter((a) => a.report === "transition")).toEqual([]);
    expect(jobs.liveJobIds(1)).toEqual([3]);
    expect(tally.count).toBe(2);
    expect(answeredFor).toEqual([1]);
  });

  it("takes a baseline with one request when the first page holds the whole history", async () => {
    const { api, jobs, scan } = world();
    for (let id = 1; id <= 12; id++) api.addJob(1, id, id === 12 ? "running" : "success");
    const watch = freshWatch(1);
    await scan.scan(watch, "baseline");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=20"]);
    expect(jobs.liveJobIds(1)).toEqual([12]);
    expect(watch.watermark).toBe(12);
  });

  it("reads the newest jobs page by page down to the watermark; only jobs above it are new", async () => {
    const { api, jobs, scan } = world();
    for (let id = 1; id <= 180; id++) api.addJob(1, id, "success");
    const watch = freshWatch(1, { watermark: 60, pipelinesSinceMs: 5, visited: true });
    await scan.scan(watch, "hot");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=100", "jobs project=1 page=2 per_page=100"]);
    expect(watch.watermark).toBe(180);
    expect(watch.pipelinesSinceMs).toBe(5);
    expect(watch.lastActivityMs).toBe(NOW);
    const isNew = new Map(jobs.applied.map((a) => [a.id, a.report === "transition"]));
    expect(isNew.size).toBe(180);
    expect(isNew.get(61)).toBe(true);
    expect(isNew.get(60)).toBe(false);
    expect(isNew.get(1)).toBe(false);
  });

  it("stops at the page that holds the watermark job itself", async () => {
    const { api, scan } = world();
    for (let id = 1; id <= 180; id++) api.addJob(1, id, "success");
    const watch = freshWatch(1, { watermark: 81, pipelinesSinceMs: 5, visited: true });
    await scan.scan(watch, "hot");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=100"]);
  });

  it("costs one request and marks no activity when nothing is new", async () => {
    const { api, scan } = world();
    for (let id = 1; id <= 5; id++) api.addJob(1, id, "success");
    const watch = freshWatch(1, { watermark: 5, pipelinesSinceMs: 5, visited: true });
    await scan.scan(watch, "hot");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=100"]);
    expect(watch.lastActivityMs).toBe(0);
  });

  it("resolves tracked live jobs older than the scan: one live list, then single reads; a job GitLab no longer has is forgotten", async () => {
    const { api, jobs, scan } = world();
    for (let id = 1; id <= 300; id++) api.addJob(1, id, "success");
    api.addJob(1, 5, "running");
    api.removeJob(9);
    // Tracked from earlier polls: 5 still runs, 7 finished since, 9 was deleted with its pipeline.
    for (const id of [5, 7, 9]) jobs.statusOf.set(id, { projectId: 1, status: "running" });
    const watch = freshWatch(1, { watermark: 250, pipelinesSinceMs: 5, visited: true });
    await scan.scan(watch, "hot");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=100", "live jobs project=1", "job project=1 id=7", "job project=1 id=9"]);
    expect(jobs.statusOf.get(7)?.status).toBe("success");
    expect(jobs.forgotten).toEqual([9]);
    expect(jobs.liveJobIds(1)).toEqual([5]);
  });

  it("re-lists live jobs after a 403/404 even when the scan reached the watermark", async () => {
    const { api, scan } = world();
    for (let id = 1; id <= 5; id++) api.addJob(1, id, "success");
    const watch = freshWatch(1, { watermark: 5, pipelinesSinceMs: 5, visited: true, resync: true });
    await scan.scan(watch, "resync");
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=100", "live jobs project=1"]);
  });

  it("places jobs a webhook named through their pipelines, and jobs without a pipeline through the live list", async () => {
    const { api, jobs, scan } = world();
    for (let id = 1; id <= 150; id++) api.addJob(1, id, "success", 1);
    api.addJob(1, 40, "pending", 77);
    api.addJob(1, 41, "success", 77);
    api.addJob(1, 42, "running", null);
    const watch = freshWatch(1, { watermark: 150, pipelinesSinceMs: 5, visited: true });
    // 149 is on the newest page, so it needs no read of its own.
    for (const [job, pipeline] of [[40, 77], [41, 77], [42, null], [149, 1]] as const) watch.unplaced.set(job, pipeline);
    await scan.scan(watch, "expedited");
    expect(api.take()).toEqual([
      "jobs project=1 page=1 per_page=100",
      "pipeline jobs project=1 pipeline=77 page=1 per_page=100",
      "live jobs project=1",
    ]);
    expect(jobs.statusOf.get(40)?.status).toBe("pending");
    expect(jobs.statusOf.get(42)?.status).toBe("running");
    expect(watch.unplaced.size).toBe(0);
  });

  it("stops after 20 pages when a project made more new jobs than one poll reads", async () => {
    const { api, scan } = world();
    for (let id = 1; id <= 2_200; id++) api.addJob(1, id, "success");
    const watch = freshWatch(1, { watermark: 10, pipelinesSinceMs: 5, visited: true });
    await scan.scan(watch, "hot");
    expect(api.take()).toEqual(Array.from({ length: 20 }, (_, i) => `jobs project=1 page=${i + 1} per_page=100`));
    expect(watch.watermark).toBe(2_200);
  });

  it("lets a failure through, leaving the watermark where it was", async () => {
    const { api, scan } = world();
    api.addJob(1, 1, "success");
    api.refusing.set(1, 502);
    const watch = freshWatch(1, { watermark: 0, pipelinesSinceMs: 5, visited: true });
    await expect(scan.scan(watch, "hot")).rejects.toMatchObject({ status: 502 });
    expect(watch.watermark).toBe(0);
  });
});
