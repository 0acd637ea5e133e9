import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GitLabPoller, type PollerDeps } from "../../../../../src/sources/gitlab/poller/coordinator.js";
import { GitLabRequestError } from "../../../../../src/sources/gitlab/request-error.js";
import { FakeGitLabApi, RecordingJobSink, RecordingProjectSink } from "../../../../helpers/fake-poller-world.js";

const OPTIONS = {
  projects: [],
  groups: ["acme"],
  pollIntervalMs: 1_000,
  discoveryIntervalMs: 60_000,
  idleRequestsPerSecond: 2,
  hotProjectTtlMs: 60_000,
  maxConcurrentRequests: 4,
};

/** Two projects: acme/api (id 1) runs a job, acme/web (id 2) is idle. Time is fake, starting at T0. */
function start(prepare: (api: FakeGitLabApi) => void = () => undefined, extra: Partial<PollerDeps> = {}) {
  vi.useFakeTimers({ now: Date.parse("2026-12-07T12:00:00Z") });
  const t0 = Date.now();
  const api = new FakeGitLabApi(() => Date.now());
  api.groupMembers = [
    { id: 1, path_with_namespace: "acme/api" },
    { id: 2, path_with_namespace: "acme/web" },
  ];
  api.addJob(1, 10, "running");
  api.addJob(2, 20, "success");
  prepare(api);
  const jobs = new RecordingJobSink();
  const projects = new RecordingProjectSink();
  const synced: number[] = [];
  const states: string[] = [];
  const poller = new GitLabPoller(OPTIONS, {
    api,
    jobs,
    projects,
    log: pino({ level: "silent" }),
    onSynced: (atMs) => synced.push(atMs - t0),
    onProjectStates: (hot, idle, unread) => states.push(`${hot}/${idle}/${unread}`),
    ...extra,
  });
  poller.start();
  /** Advances the fake clock to `ms` after the start. */
  const until = (ms: number) => vi.advanceTimersByTimeAsync(t0 + ms - Date.now());
  return { api, jobs, projects, poller, synced, states, until };
}

const hotScan = (id: number) => `jobs project=${id} page=1 per_page=100`;
const isCheck = (request: string) => request.startsWith("pipelines ");
/** Requests other than the round's pipelines checks. */
const scans = (requests: string[]) => requests.filter((r) => !isCheck(r));
/** Requests as `"<what> project=<id>"`. */
const brief = (requests: string[]) => requests.map((r) => r.split(" ").slice(0, 2).join(" "));

describe("GitLabPoller", () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    vi.useRealTimers();
  });

  it("is ready once discovery answered, visits every project once, then polls hot projects every interval and checks every project in turn", async () => {
    const { api, poller, projects, synced, states, until } = start();
    stop = () => poller.stop();
    expect(poller.initialSyncDone).toBe(false);
    await until(50);
    expect(api.take()).toEqual(["group projects group=acme"]);
    expect(projects.calls).toEqual(["replaceAll 1,2"]);
    // Readiness does not wait for the first visits: the projects not read yet show as unread.
    expect(poller.initialSyncDone).toBe(true);
    expect(states.at(-1)).toBe("0/2/2");

    await until(150);
    expect(api.take()).toEqual(["jobs project=1 page=1 per_page=20", "jobs project=2 page=1 per_page=20"]);

    await until(3_100);
    const requests = api.take();
    // Only the hot project is scanned, once every poll interval.
    expect(requests.filter((r) => r.startsWith("jobs "))).toEqual([hotScan(1), hotScan(1), hotScan(1)]);
    // Every project gets its pipelines check in turn, two a second (at 600, 1,100, … 3,100 ms).
    expect(requests.filter(isCheck).map((r) => r.split(" ")[1])).toEqual(["project=1", "project=2", "project=1", "project=2", "project=1", "project=2"]);
    expect(requests.length).toBe(9);
    expect(synced).toEqual([0, 1_000, 2_000, 3_000]);
    expect(states.at(-1)).toBe("1/1/0");
  });

  it("scans a project a webhook asked about after the expedite delay, and reads the pipeline of the job it could not place", async () => {
    const { api, poller, until } = start();
    stop = () => poller.stop();
    await until(1_050);
    api.take();
    poller.placeJobsSoon(2, [{ jobId: 25, pipelineId: 5 }]);
    await until(1_299);
    expect(scans(api.take())).toEqual([]);
    await until(1_300);
    expect(scans(api.take())).toEqual(["jobs project=2 page=1 per_page=100", "pipeline jobs project=2 pipeline=5 page=1 per_page=100"]);
    // Activity alone (no details needed) makes the project hot, without an extra visit.
    poller.keepHot(2);
    await until(1_999);
    expect(scans(api.take())).toEqual([]);
    await until(2_000);
    expect(scans(api.take())).toEqual([hotScan(1), hotScan(2)]);
  });

  it("marks no sync for a window with a failure, and backs the failing project off", async () => {
    const { api, poller, synced, until } = start();
    stop = () => poller.stop();
    await until(1_500);
    api.take();
    api.refusing.set(1, 502);
    await until(2_000);
    // The check at 1,600 ms fails: project 1 waits one poll interval, so no hot poll at 2,000 ms.
    expect(brief(api.take())).toEqual(["pipelines project=1"]);
    await until(2_500);
    expect(brief(api.take())).toEqual(["pipelines project=2"]);
    api.refusing.delete(1);
    await until(3_000);
    expect(brief(api.take())).toEqual(["pipelines project=1", "jobs project=1"]);
    await until(4_100);
    // The window that ended at 2,000 ms had a failure.
    expect(synced).toEqual([0, 1_000, 3_000, 4_000]);
  });

  it("retries a failing first discovery with backoff and is not ready meanwhile", async () => {
    const { api, poller, synced, until } = start((api) => (api.groupStatus = 500));
    stop = () => poller.stop();
    await until(0);
    expect(api.take()).toEqual(["group projects group=acme"]);
    // Again after 1 s, then 2 s, then 4 s.
    await until(3_500);
    expect(api.take()).toEqual(["group projects group=acme", "group projects group=acme"]);
    expect(poller.initialSyncDone).toBe(false);
    api.groupStatus = null;
    await until(6_999);
    expect(api.take()).toEqual([]);
    await until(7_200);
    expect(api.take()).toEqual(["group projects group=acme", "jobs project=1 page=1 per_page=20", "jobs project=2 page=1 per_page=20"]);
    expect(poller.initialSyncDone).toBe(true);
    // No window was a sync while discovery failed; the first after it answered is.
    expect(synced).toEqual([7_000]);
  });

  it("visits every project by REST when GitLab's GraphQL keeps failing for a passing reason, and ends on REST", async () => {
    let queries = 0;
    const paths: string[] = [];
    const graphql: PollerDeps["graphql"] = {
      query: () => {
        queries++;
        return Promise.reject(new GitLabRequestError("POST /graphql: HTTP 502", 502, "http", "/graphql"));
      },
    };
    const { api, poller, until } = start(undefined, { graphql, onReadPath: (path) => paths.push(path) });
    stop = () => poller.stop();
    await until(150);
    // The probe failed: the first visits do not wait for a sweep that may never come.
    expect(queries).toBe(1);
    expect(api.take()).toEqual(["group projects group=acme", "jobs project=1 page=1 per_page=20", "jobs project=2 page=1 per_page=20"]);
    expect(poller.initialSyncDone).toBe(true);
    await until(2_050);
    expect(queries).toBe(3);
    expect(poller.readPath).toBe("rest");
    expect(paths).toEqual(["rest"]);
  });

  it("makes no request once stopped", async () => {
    const { api, poller, until } = start();
    await until(1_050);
    await poller.stop();
    api.take();
    poller.placeJobsSoon(2, [{ jobId: 25, pipelineId: 5 }]);
    await until(10_000);
    expect(api.take()).toEqual([]);
  });

  it("as one shard, watches its own projects alone but knows every discovered project's id", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-12-07T12:00:00Z") });
    const api = new FakeGitLabApi(() => Date.now());
    api.groupMembers = [
      { id: 1, path_with_namespace: "acme/api" },
      { id: 2, path_with_namespace: "acme/web" },
    ];
    api.addJob(1, 10, "running");
    api.addJob(2, 20, "running");
    const projects = new RecordingProjectSink();
    const poller = new GitLabPoller({ ...OPTIONS, projects: ["1", "2"], groups: [], owns: (id) => id === 2 }, { api, jobs: new RecordingJobSink(), projects, log: pino({ level: "silent" }), onSynced: () => undefined, onProjectStates: () => undefined });
    stop = () => poller.stop();
    poller.start();
    await vi.advanceTimersByTimeAsync(1_100);
    // The listed id of the other shard is not even resolved; only project 2 is read.
    expect(brief(api.take()).filter((r) => !r.startsWith("pipelines"))).toEqual(["project ref=2", "jobs project=2", "jobs project=2"]);
    expect(projects.calls).toEqual(["replaceAll 2"]);
    expect(poller.projectIdOf("acme/web")).toBe(2);
  });

  it("as a standby, discovers but reads no job until it starts polling", async () => {
    const { api, poller, until } = start();
    await poller.stop();
    vi.useRealTimers();
    vi.useFakeTimers({ now: Date.parse("2026-12-07T12:00:00Z") });
    const t0 = Date.now();
    const standby = new GitLabPoller(OPTIONS, { api, jobs: new RecordingJobSink(), projects: new RecordingProjectSink(), log: pino({ level: "silent" }), onSynced: () => undefined, onProjectStates: () => undefined });
    stop = () => standby.stop();
    api.take();
    standby.start({ polling: false });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(api.take()).toEqual(["group projects group=acme"]);
    expect(standby.initialSyncDone).toBe(true);
    expect(standby.projectIdOf("acme/api")).toBe(1);
    standby.startPolling();
    await vi.advanceTimersByTimeAsync(t0 + 5_200 - Date.now());
    expect(scans(api.take())).toEqual(expect.arrayContaining(["jobs project=1 page=1 per_page=20", "jobs project=2 page=1 per_page=20"]));
    void until;
  });
});
