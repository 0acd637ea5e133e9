import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { JobObservation, JobStatus } from "../../../../../src/domain/job.js";
import type { WatchedProject } from "../../../../../src/domain/events.js";
import { GitLabClock } from "../../../../../src/sources/gitlab/clock.js";
import { GraphqlQueryError } from "../../../../../src/sources/gitlab/graphql/client.js";
import type { SweepRead, SweptProject } from "../../../../../src/sources/gitlab/graphql/sweep.js";
import { PIPELINES_OVERLAP_MS } from "../../../../../src/sources/gitlab/poller/pipeline-check.js";
import { GRAPHQL_RETRY_MS, MAX_SWEEP_FAILURES, SweepLoop, type ReadPath, type ReadPathSetting } from "../../../../../src/sources/gitlab/poller/sweep-loop.js";
import { GitLabRequestError } from "../../../../../src/sources/gitlab/request-error.js";
import { RecordingJobSink } from "../../../../helpers/fake-poller-world.js";

const START = Date.parse("2026-06-01T09:00:00.750Z");
const WATCHED: WatchedProject[] = [
  { id: 1, path: "acme/api" },
  { id: 2, path: "acme/web" },
];

const httpError = (status: number) => new GitLabRequestError(`POST /graphql: HTTP ${status}`, status, "http", "/graphql");
const timeout = () => new GitLabRequestError("POST /graphql: timed out", undefined, "timeout", "/graphql");

function observation(id: number, projectId: number, status: JobStatus = "pending"): JobObservation {
  return { id, projectId, status, tags: "docker", runner: "", failureReason: "", queuedDurationSeconds: null, durationSeconds: null, queuedAtMs: null, startedAtMs: null };
}

function swept(projectId: number, jobs: JobObservation[] = [], overrides: Partial<SweptProject> = {}): SweptProject {
  return { projectId, jobs, complete: true, ended: false, ...overrides };
}

function readOf(...projects: SweptProject[]): SweepRead {
  return { projects: new Map(projects.map((p) => [p.projectId, p])), requests: projects.length };
}

/**
 * A SweepLoop over fakes: the probe and both reads answer what the test says (an Error is thrown),
 * time is moved by hand, and every call, read path, sweep outcome, REST read and log line is kept.
 */
function world(setting: ReadPathSetting = "auto") {
  let now = START;
  const calls: string[] = [];
  const state = {
    sees: true as boolean | Error,
    sweepAnswers: [] as Array<SweepRead | Error>,
  };
  const next = (): SweepRead => {
    const answer = state.sweepAnswers.shift() ?? readOf();
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const jobs = new RecordingJobSink();
  const paths: ReadPath[] = [];
  const sweeps: string[] = [];
  const readByRest: number[] = [];
  const swept: number[] = [];
  const logs: Array<{ level: number; msg: string; path?: string }> = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });
  const clock = new GitLabClock(() => now);
  const loop = new SweepLoop({
    setting,
    groups: {
      read: async (watched, since) => {
        calls.push(`groups ${watched.map((p) => p.id).join(",")} since=${since}`);
        return next();
      },
    },
    instance: {
      seesInstance: async () => {
        calls.push("probe");
        if (state.sees instanceof Error) throw state.sees;
        return state.sees;
      },
      read: async (watched) => {
        calls.push(`instance ${watched.map((p) => p.id).join(",")}`);
        return next();
      },
    },
    jobs,
    watched: () => WATCHED,
    readByRest: (projectId) => readByRest.push(projectId),
    swept: (projectId) => swept.push(projectId),
    clock,
    log,
    now: () => now,
    onReadPath: (path) => paths.push(path),
    onSweep: (path, outcome, requests) => sweeps.push(`${path}:${outcome}:${requests}`),
  });
  /** One tick; its failure, if any, as a value. */
  const tick = async (): Promise<unknown> => {
    try {
      await loop.tick();
      return undefined;
    } catch (error) {
      return error;
    }
  };
  const take = () => calls.splice(0);
  const warnings = () => logs.filter((l) => l.level === 40).map((l) => l.msg);
  return { loop, clock, state, jobs, paths, sweeps, readByRest, logs, warnings, tick, take, advance: (ms: number) => (now += ms), now: () => now };
}

/** GitLab's `Time` for a moment: whole seconds. */
const isoSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
/** Before GitLab told its time, the local clock less five minutes. */
const UNKNOWN_CLOCK_MARGIN_MS = 5 * 60_000;

describe("SweepLoop: choosing the read path", () => {
  it("auto reads the instance with an administrator's token", async () => {
    const w = world("auto");
    w.state.sees = true;
    w.state.sweepAnswers.push(readOf(swept(1, [observation(11, 1)])));
    expect(await w.tick()).toBeUndefined();
    expect(w.take()).toEqual(["probe", "instance 1,2"]);
    expect(w.loop.readPath).toBe("instance");
    expect(w.paths).toEqual(["instance"]);
    expect(w.sweeps).toEqual(["instance:ok:1"]);
    // The choice is made once.
    await w.tick();
    expect(w.take()).toEqual(["instance 1,2"]);
  });

  it("auto sweeps groups and projects with anyone else's", async () => {
    const w = world("auto");
    w.state.sees = false;
    await w.tick();
    expect(w.take()).toEqual(["probe", `groups 1,2 since=${isoSeconds(START - UNKNOWN_CLOCK_MARGIN_MS)}`]);
    expect(w.loop.readPath).toBe("sweep");
    expect(w.paths).toEqual(["sweep"]);
    expect(w.warnings()).toEqual([]);
  });

  it("instance asked with a token that does not see the instance sweeps instead, and says so", async () => {
    const w = world("instance");
    w.state.sees = false;
    await w.tick();
    expect(w.take()).toEqual(["probe", expect.stringMatching(/^groups /)]);
    expect(w.loop.readPath).toBe("sweep");
    expect(w.warnings()).toEqual([expect.stringContaining("GITLAB_READ_PATH=instance")]);
  });

  it("sweep never probes the instance", async () => {
    const w = world("sweep");
    await w.tick();
    expect(w.take()).toEqual([expect.stringMatching(/^groups /)]);
  });

  it("rest never asks GraphQL anything, even after the retry delay", async () => {
    const w = world("rest");
    expect(w.loop.settling).toBe(false);
    await w.tick();
    w.advance(GRAPHQL_RETRY_MS * 3);
    await w.tick();
    expect(w.take()).toEqual([]);
    expect(w.loop.readPath).toBe("rest");
    expect(w.paths).toEqual(["rest"]);
    expect(w.sweeps).toEqual([]);
    expect([w.loop.hasSwept, w.loop.covering, w.loop.settling]).toEqual([false, false, false]);
  });

  for (const [what, refusal] of [
    ["404", httpError(404)],
    ["403", httpError(403)],
    ["a query GitLab does not know", new GraphqlQueryError("POST /graphql: Field 'jobs' doesn't exist on type 'Query'", "query")],
  ] as const) {
    it(`GraphQL refused at the probe (${what}): REST at once, said so, GraphQL tried again ${GRAPHQL_RETRY_MS / 60_000} minutes later`, async () => {
      const w = world("auto");
      w.state.sees = refusal;
      expect(await w.tick()).toBeUndefined();
      expect(w.take()).toEqual(["probe"]);
      expect(w.loop.readPath).toBe("rest");
      expect(w.paths).toEqual(["rest"]);
      expect(w.warnings()).toEqual([expect.stringContaining("GraphQL is unavailable")]);
      expect([w.loop.settling, w.loop.covering, w.loop.hasSwept]).toEqual([false, false, false]);

      w.advance(GRAPHQL_RETRY_MS - 1);
      await w.tick();
      expect(w.take()).toEqual([]);

      w.state.sees = false;
      w.advance(1);
      await w.tick();
      expect(w.take()).toEqual(["probe", expect.stringMatching(/^groups /)]);
      expect(w.paths).toEqual(["rest", "sweep"]);
      expect(w.loop.covering).toBe(true);
    });
  }

  it("a probe failing for a passing reason is retried at the next tick; first visits stop waiting, and after three REST takes over", async () => {
    const w = world("auto");
    w.state.sees = httpError(502);
    expect(w.loop.settling).toBe(true);
    expect(await w.tick()).toMatchObject({ status: 502 });
    expect(w.loop.readPath).toBeNull();
    // Something failed: the first visits by REST must not wait for a sweep that may never come.
    expect(w.loop.settling).toBe(false);
    w.state.sees = timeout();
    for (let i = 1; i < MAX_SWEEP_FAILURES; i++) expect(await w.tick()).toMatchObject({ kind: "timeout" });
    expect(w.take()).toEqual(Array.from({ length: MAX_SWEEP_FAILURES }, () => "probe"));
    expect(w.loop.readPath).toBe("rest");
    expect(w.paths).toEqual(["rest"]);

    await w.tick();
    expect(w.take()).toEqual([]);
    w.advance(GRAPHQL_RETRY_MS);
    w.state.sees = true;
    await w.tick();
    expect(w.take()).toEqual(["probe", "instance 1,2"]);
    expect(w.loop.readPath).toBe("instance");
  });
});

describe("SweepLoop: failures of a sweep", () => {
  it("a 404 during a sweep makes REST the read path at once", async () => {
    const w = world("sweep");
    w.state.sweepAnswers.push(readOf(), httpError(404));
    await w.tick();
    expect(await w.tick()).toMatchObject({ status: 404 });
    expect(w.loop.readPath).toBe("rest");
    expect(w.paths).toEqual(["sweep", "rest"]);
    expect(w.sweeps).toEqual(["sweep:ok:0", "sweep:failed:0"]);
    expect(w.warnings()).toEqual([expect.stringContaining("unavailable")]);
    expect([w.loop.hasSwept, w.loop.covering]).toEqual([true, false]);

    w.take();
    await w.tick();
    expect(w.take()).toEqual([]);
    w.advance(GRAPHQL_RETRY_MS);
    await w.tick();
    expect(w.take()).toEqual([expect.stringMatching(/^groups /)]);
    expect(w.loop.readPath).toBe("sweep");
  });

  it(`${MAX_SWEEP_FAILURES} passing failures in a row make REST the read path; a success in between starts the count again`, async () => {
    const w = world("sweep");
    w.state.sweepAnswers.push(httpError(500), timeout(), readOf(), httpError(500), timeout());
    for (let i = 0; i < 5; i++) await w.tick();
    expect(w.loop.readPath).toBe("sweep");
    w.state.sweepAnswers.push(new GitLabRequestError("POST /graphql: expected JSON, got text/html", 200, "protocol", "/graphql"));
    expect(await w.tick()).toMatchObject({ kind: "protocol" });
    expect(w.loop.readPath).toBe("rest");
    expect(w.sweeps).toEqual(["sweep:failed:0", "sweep:failed:0", "sweep:ok:0", "sweep:failed:0", "sweep:failed:0", "sweep:failed:0"]);
    expect(w.paths).toEqual(["sweep", "rest"]);
  });

  it("a complexity refusal GitLab kept up is a passing failure, not GraphQL refused", async () => {
    const w = world("sweep");
    w.state.sweepAnswers.push(new GraphqlQueryError("POST /graphql: Query has complexity of 300, which exceeds max complexity of 250", "complexity"));
    await w.tick();
    expect(w.loop.readPath).toBe("sweep");
  });
});

describe("SweepLoop: applying a sweep", () => {
  it("applies live jobs as listed and sends to REST what only REST can tell", async () => {
    const w = world("sweep");
    // Tracked before the sweep: 21 and 22 live in project 2, 31 in project 3, 41 in project 4.
    for (const [id, projectId] of [
      [21, 2],
      [22, 2],
      [31, 3],
      [41, 4],
    ] as const)
      w.jobs.apply(observation(id, projectId, "running"), "listing");
    w.jobs.applied.length = 0;
    w.state.sweepAnswers.push(
      readOf(
        // Nothing to tell: all its live jobs listed, nothing ended.
        swept(1, [observation(11, 1), observation(12, 1, "running")]),
        // A tracked live job missing from a complete list: it ended.
        swept(2, [observation(21, 2, "running")]),
        // Lists cut short, and jobs in them: the rest is read by REST.
        swept(3, [observation(31, 3, "running")], { complete: false }),
        // Lists cut short with nothing read: a missing job proves nothing.
        swept(4, [], { complete: false }),
        // A pipeline ended since the previous sweep.
        swept(5, [], { ended: true }),
      ),
    );
    await w.tick();
    expect(w.jobs.applied.map((a) => `${a.id}:${a.status}:${a.report}`)).toEqual(["11:pending:listing", "12:running:listing", "21:running:listing", "31:running:listing"]);
    expect(w.readByRest).toEqual([2, 3, 5]);
  });

  it("knows it swept once a sweep read every project, and covers while GraphQL answers", async () => {
    const w = world("auto");
    w.state.sees = false;
    expect([w.loop.hasSwept, w.loop.settling, w.loop.covering]).toEqual([false, true, false]);
    w.state.sweepAnswers.push(httpError(500));
    await w.tick();
    // A failure: first visits go ahead by REST, the sweep may come later.
    expect([w.loop.hasSwept, w.loop.settling, w.loop.covering]).toEqual([false, false, false]);
    await w.tick();
    expect([w.loop.hasSwept, w.loop.settling, w.loop.covering]).toEqual([true, false, true]);
  });

  it("asks for the changes since the first sweep's start, then since the previous start less the overlap, in GitLab's whole seconds", async () => {
    const w = world("sweep");
    await w.tick();
    const first = START - UNKNOWN_CLOCK_MARGIN_MS;
    expect(w.take()).toEqual([`groups 1,2 since=${isoSeconds(first)}`]);
    expect(isoSeconds(first)).toBe("2026-06-01T08:55:00Z");

    w.advance(30_000);
    await w.tick();
    const second = first + 30_000;
    expect(w.take()).toEqual([`groups 1,2 since=${isoSeconds(first - PIPELINES_OVERLAP_MS)}`]);

    // A failed sweep does not move the cursor.
    w.advance(30_000);
    w.state.sweepAnswers.push(httpError(500));
    await w.tick();
    w.advance(30_000);
    await w.tick();
    expect(w.take()).toEqual([`groups 1,2 since=${isoSeconds(second - PIPELINES_OVERLAP_MS)}`, `groups 1,2 since=${isoSeconds(second - PIPELINES_OVERLAP_MS)}`]);
  });

  it("takes the start in GitLab's time once GitLab told it", async () => {
    const w = world("sweep");
    // GitLab's clock is 2 s ahead of the local one; its Date header says 09:00:02 at 09:00:00.750.
    for (let i = 0; i < 3; i++) w.clock.observe(new Date(START + 2_000).toUTCString(), START);
    await w.tick();
    expect(w.take()).toEqual(["groups 1,2 since=2026-06-01T09:00:02Z"]);
    w.advance(10_000);
    await w.tick();
    expect(w.take()).toEqual(["groups 1,2 since=2026-06-01T08:59:32Z"]);
  });
});
