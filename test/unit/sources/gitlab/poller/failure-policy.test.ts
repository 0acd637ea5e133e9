import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FailurePolicy } from "../../../../../src/sources/gitlab/poller/failure-policy.js";
import { ProjectWatches } from "../../../../../src/sources/gitlab/poller/project-watch.js";
import { GitLabRequestError } from "../../../../../src/sources/gitlab/request-error.js";
import { RecordingJobSink, RecordingProjectSink } from "../../../../helpers/fake-poller-world.js";

const log = pino({ level: "silent" });
const httpError = (status: number) => new GitLabRequestError(`GET /projects/:id/jobs: HTTP ${status}`, status, "http", "/projects/:id/jobs");

function world(logger = log) {
  let now = 100_000;
  const jobs = new RecordingJobSink();
  const projects = new RecordingProjectSink();
  const watches = new ProjectWatches({ jobs, projects, now: () => now });
  const rechecked: number[] = [];
  let changes = 0;
  const policy = new FailurePolicy({
    watches,
    jobs,
    projects,
    log: logger,
    now: () => now,
    backoffMs: (failures) => 1_000 * failures,
    recheck: (id) => rechecked.push(id),
    readabilityChanged: () => changes++,
  });
  watches.reconcile([{ id: 1, path: "team/api" }]);
  projects.calls.length = 0;
  const watch = Object.assign(watches.get(1)!, { watermark: 40, pipelinesSinceMs: 7_000, visited: true });
  jobs.statusOf.set(39, { projectId: 1, status: "running" });
  return { jobs, projects, watches, policy, watch, rechecked, changes: () => changes, setNow: (ms: number) => (now = ms) };
}

describe("FailurePolicy", () => {
  for (const status of [403, 404]) {
    it(`drops the series of a project answering ${status}, keeps its markers, and retries it with backoff`, () => {
      const { jobs, projects, policy, watch, rechecked, changes } = world();
      policy.failed(watch, httpError(status));
      expect(jobs.dropped).toEqual([1]);
      expect(jobs.liveJobIds(1)).toEqual([]);
      expect(projects.calls).toEqual(["remove 1"]);
      expect(rechecked).toEqual([1]);
      expect(changes()).toBe(1);
      expect([watch.readable, watch.resync, watch.watermark, watch.pipelinesSinceMs]).toEqual([false, true, 40, 7_000]);
      expect([watch.consecutiveFailures, watch.notBeforeMs]).toEqual([1, 101_000]);

      // Still refused: only the backoff grows.
      policy.failed(watch, httpError(status));
      expect(jobs.dropped).toEqual([1]);
      expect(projects.calls).toEqual(["remove 1"]);
      expect([watch.consecutiveFailures, watch.notBeforeMs]).toEqual([2, 102_000]);
    });
  }

  it("watches a project again as soon as GitLab answers for it, and clears its re-listing after the resync visit", () => {
    const { projects, policy, watch, changes } = world();
    policy.failed(watch, httpError(404));
    policy.answered(watch);
    expect(projects.calls).toEqual(["remove 1", "add 1"]);
    expect(watch.readable).toBe(true);
    expect(changes()).toBe(2);
    // Answered again: nothing more to do.
    policy.answered(watch);
    expect(projects.calls).toEqual(["remove 1", "add 1"]);

    policy.succeeded(watch, "resync");
    expect([watch.resync, watch.consecutiveFailures, watch.notBeforeMs]).toEqual([false, 0, 0]);
  });

  it("keeps the re-listing due after a success of another kind", () => {
    const { projects, policy, watch } = world();
    policy.failed(watch, httpError(403));
    policy.succeeded(watch, "pipelines");
    expect(projects.calls).toEqual(["remove 1", "add 1"]);
    expect([watch.readable, watch.resync, watch.visited]).toEqual([true, true, true]);
  });

  it("backs off on any other failure without touching the project's series", () => {
    const { jobs, projects, policy, watch, rechecked } = world();
    policy.failed(watch, httpError(502));
    policy.failed(watch, new Error("socket hang up"));
    expect([watch.readable, watch.resync, watch.consecutiveFailures, watch.notBeforeMs]).toEqual([true, false, 2, 102_000]);
    expect(jobs.dropped).toEqual([]);
    expect(projects.calls).toEqual([]);
    expect(rechecked).toEqual([]);
  });

  it("does not bring back a project discovery dropped meanwhile", () => {
    const { projects, watches, policy, watch } = world();
    policy.failed(watch, httpError(404));
    watches.reconcile([]);
    projects.calls.length = 0;
    policy.succeeded(watch, "resync");
    expect(watch.readable).toBe(true);
    expect(projects.calls).toEqual([]);
  });

  it("names the project, the host and what to check in its log lines", () => {
    const lines: string[] = [];
    const { policy, watch } = world(pino({ level: "warn" }, { write: (line: string) => void lines.push(line) }));
    const fromGitLab = (status: number) => new GitLabRequestError(`GET /projects/:id/jobs: HTTP ${status}`, status, "http", "/projects/:id/jobs", "gitlab.example.com");
    policy.failed(watch, fromGitLab(502));
    policy.failed(watch, fromGitLab(404));
    const [failed, gone] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failed).toMatchObject({
      project: "team/api",
      gitlab: "gitlab.example.com",
      status: 502,
      retryInMs: 1_000,
      msg: "GitLab at gitlab.example.com answered 502 reading project team/api: GitLab, or a proxy in front of it, is failing (GET /projects/:id/jobs: HTTP 502); tried again in 1 s",
    });
    expect(gone).toMatchObject({
      project: "team/api",
      status: 404,
      msg: "GitLab at gitlab.example.com has no project team/api this token can see (404): the project was deleted or moved, or the token lost access to it; its series are dropped and it is retried with backoff",
    });
  });
});
