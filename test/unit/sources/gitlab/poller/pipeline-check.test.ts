import { describe, expect, it } from "vitest";
import type { PipelineFinished } from "../../../../../src/domain/events.js";
import { GitLabClock } from "../../../../../src/sources/gitlab/clock.js";
import { PipelineStore } from "../../../../../src/state/pipelines.js";
import { PIPELINES_OVERLAP_MS, PipelineCheck } from "../../../../../src/sources/gitlab/poller/pipeline-check.js";
import { FakeGitLabApi, freshWatch, iso, RecordingJobSink } from "../../../../helpers/fake-poller-world.js";

const T0 = Date.parse("2026-12-07T12:00:00Z");
/** A project past its baseline, its cursor one minute before T0. */
const CURSOR = T0 - 60_000;

function world() {
  let now = T0;
  const api = new FakeGitLabApi(() => now);
  const jobs = new RecordingJobSink();
  // GitLab's clock runs 2 s ahead of ours: the cursor is taken in its time.
  const clock = new GitLabClock(() => now);
  // (The clock takes GitLab to be ahead only once three answers agree.)
  for (let i = 0; i < 3; i++) clock.observe(new Date(T0 + 2_000).toUTCString(), T0);
  const tally = { count: 0, answered() { this.count++; } };
  const refused: Array<{ reason: string; detail: unknown }> = [];
  const rejections = { reject: (_source: string, reason: string, detail?: unknown) => void refused.push({ reason, detail }) };
  // Counting from the start of the minute before the cursor's.
  const pipelines = new PipelineStore({ countFinishedSinceMs: CURSOR - 60_000, now: () => now });
  const finished: PipelineFinished[] = [];
  pipelines.onFinished.add((e) => finished.push(e));
  const check = new PipelineCheck({ api, jobs, pipelines, clock, tally, now: () => now, rejections });
  return { api, jobs, tally, check, refused, finished, setNow: (ms: number) => (now = ms) };
}

const watched = () => freshWatch(1, { watermark: 1_000, visited: true, pipelinesSinceMs: CURSOR });
const listing = (afterMs: number, beforeMs?: number) =>
  `pipelines project=1 updated_after=${iso(afterMs)}${beforeMs === undefined ? "" : ` updated_before=${iso(beforeMs)}`} page=1 per_page=20`;
const jobsOf = (pipeline: number) => `pipeline jobs project=1 pipeline=${pipeline} page=1 per_page=100`;

describe("PipelineCheck", () => {
  it("tells the pipeline state every pipeline it lists with its status, read or not, counted once", async () => {
    const { api, check, finished } = world();
    api.setPipeline(1, 10, iso(T0 - 30_000), "success");
    api.setPipeline(1, 11, iso(T0 - 20_000), "running");
    api.setPipeline(1, 12, iso(T0 - 10_000), "skipped");
    const watch = watched();
    await check.check(watch);
    // Listed again in the overlap, unchanged, so not read again: still nothing counted twice.
    await check.check(watch);
    api.setPipeline(1, 11, iso(T0 - 1_000), "failed");
    await check.check(watch);
    expect(finished.map((e) => [e.pipelineId, e.status])).toEqual([
      [12, "skipped"],
      [10, "success"],
      [11, "failed"],
    ]);
  });

  it("costs one request when nothing changed, and moves the cursor to the check's start in GitLab's time, less the overlap", async () => {
    const { api, check, tally, setNow } = world();
    const watch = watched();
    setNow(T0 + 10_000);
    await check.check(watch);
    expect(api.take()).toEqual([listing(CURSOR)]);
    expect(watch.pipelinesSinceMs).toBe(T0 + 12_000 - PIPELINES_OVERLAP_MS);
    expect(watch.catchUp).toBeNull();
    expect(watch.lastActivityMs).toBe(0);
    expect(tally.count).toBe(1);
  });

  it("reads the jobs of the pipelines that changed, most recent first, and does not read them again while unchanged", async () => {
    const { api, jobs, check } = world();
    api.setPipeline(1, 10, iso(T0 - 30_000));
    api.setPipeline(1, 11, iso(T0 - 20_000));
    api.addJob(1, 100, "manual", 10);
    api.addJob(1, 101, "pending", 10);
    api.addJob(1, 110, "running", 11);
    const watch = watched();
    await check.check(watch);
    expect(api.take()).toEqual([listing(CURSOR), jobsOf(11), jobsOf(10)]);
    expect(jobs.takeApplied()).toEqual(["110:running", "101:pending", "100:manual"]);
    expect(watch.lastActivityMs).toBe(T0);

    // Still inside the overlap, listed again: unchanged, so not read again.
    await check.check(watch);
    expect(api.take()).toEqual([listing(T0 + 2_000 - PIPELINES_OVERLAP_MS)]);
    // Changed again: read again.
    api.setPipeline(1, 11, iso(T0 - 1_000));
    await check.check(watch);
    expect(api.take()).toEqual([listing(T0 + 2_000 - PIPELINES_OVERLAP_MS), jobsOf(11)]);
  });

  it("continues a backlog below the last pipeline handled, and moves the cursor only once it is done", async () => {
    const { api, check, setNow } = world();
    // 25 changed pipelines, one a second; pipeline 25 changed last.
    const updatedAt = (id: number) => T0 - 50_000 + id * 1_000;
    for (let id = 1; id <= 25; id++) api.setPipeline(1, id, iso(updatedAt(id)));
    const watch = watched();
    const seriesStart = T0 + 2_000 - PIPELINES_OVERLAP_MS;

    await check.check(watch);
    expect(api.take()).toEqual([listing(CURSOR), ...[25, 24, 23, 22, 21, 20, 19, 18, 17, 16].map(jobsOf)]);
    expect(watch.pipelinesSinceMs).toBe(CURSOR);
    expect(watch.catchUp).toEqual({ beforeMs: updatedAt(16), seriesStartMs: seriesStart });

    setNow(T0 + 5_000);
    await check.check(watch);
    expect(api.take()).toEqual([listing(CURSOR), listing(CURSOR, updatedAt(16)), ...[15, 14, 13, 12, 11, 10, 9, 8, 7, 6].map(jobsOf)]);
    expect(watch.pipelinesSinceMs).toBe(CURSOR);
    expect(watch.catchUp).toEqual({ beforeMs: updatedAt(6), seriesStartMs: seriesStart });

    setNow(T0 + 10_000);
    await check.check(watch);
    expect(api.take()).toEqual([listing(CURSOR), listing(CURSOR, updatedAt(6)), ...[5, 4, 3, 2, 1].map(jobsOf)]);
    // Done: the cursor goes to the start of the series' first visit, not of this one.
    expect(watch.catchUp).toBeNull();
    expect(watch.pipelinesSinceMs).toBe(seriesStart);
    // Pipelines last updated before the new cursor (22 is at it) are forgotten: listed again only once they change.
    expect([...watch.readPipelines.keys()].sort((a, b) => a - b)).toEqual([22, 23, 24, 25]);
  });

  it("reads the freshest changes first while a backlog is being worked off", async () => {
    const { api, check } = world();
    for (let id = 1; id <= 25; id++) api.setPipeline(1, id, iso(T0 - 50_000 + id * 1_000));
    const watch = watched();
    await check.check(watch);
    api.take();
    api.setPipeline(1, 99, iso(T0 - 500));
    await check.check(watch);
    expect(api.take().slice(0, 4)).toEqual([listing(CURSOR), listing(CURSOR, T0 - 50_000 + 16_000), jobsOf(99), jobsOf(15)]);
  });

  it("takes a pipeline deleted since it was listed as read, without failing the check", async () => {
    const { api, jobs, check, tally } = world();
    api.setPipeline(1, 10, iso(T0 - 30_000));
    api.setPipeline(1, 11, iso(T0 - 20_000));
    api.addJob(1, 100, "pending", 10);
    const watch = watched();
    const listed = api.updatedPipelines.bind(api);
    api.updatedPipelines = async (projectId, query) => {
      const answer = await listed(projectId, query);
      api.deletePipeline(11);
      return answer;
    };
    await check.check(watch);
    expect(api.take()).toEqual([listing(CURSOR), jobsOf(11), jobsOf(10)]);
    expect(jobs.takeApplied()).toEqual(["100:pending"]);
    expect(tally.count).toBe(3);
    expect(watch.pipelinesSinceMs).toBe(T0 + 2_000 - PIPELINES_OVERLAP_MS);
  });

  it("lets any other failure through, cursor and backlog unchanged", async () => {
    const { api, check } = world();
    api.setPipeline(1, 10, iso(T0 - 30_000));
    api.refusing.set(1, 500);
    const watch = watched();
    await expect(check.check(watch)).rejects.toMatchObject({ status: 500 });
    expect(watch.pipelinesSinceMs).toBe(CURSOR);
    expect(watch.readPipelines.size).toBe(0);
  });

  it("does nothing before the project's baseline set a cursor", async () => {
    const { api, check } = world();
    await check.check(freshWatch(1));
    expect(api.take()).toEqual([]);
  });
});

describe("PipelineCheck against implausible pipeline times", () => {
  it("counts a pipeline dated in the future and never takes its time as the backlog's bound", async () => {
    const { api, check, refused, setNow } = world();
    for (let id = 1; id <= 11; id++) api.setPipeline(1, id, iso(T0 - 30_000 + id * 100));
    api.setPipeline(1, 12, "2100-01-01T00:00:00.000Z");
    const watch = watched();
    setNow(T0 + 10_000);
    await check.check(watch);
    expect(refused.map((r) => r.reason)).toEqual(["future_timestamp"]);
    // Ten read (the 2100 one and nine more), the rest left as a backlog below the oldest handled.
    expect(watch.catchUp?.beforeMs).toBe(T0 - 30_000 + 3 * 100);
  });
});
