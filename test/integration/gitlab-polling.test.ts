import { afterEach, describe, expect, it } from "vitest";
import { byLabels, eventually, sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";
import { GitLabWorld, type SimJob } from "../../src/simulator/gitlab/index.js";

const RUNNER = { id: 21, description: "eks-spot-runner" };
const SECRET = "hook-secret";

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A finished job in a pipeline of its own: history that pushes older jobs off the newest page. */
function finishedJobs(world: GitLabWorld, projectId: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const job = world.createJob(projectId, { name: `lint-${i}`, tags: ["small"], status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, "success");
  }
}

async function readyz(s: Stack): Promise<number> {
  return (await fetch(`${s.exporter.url}/readyz`)).status;
}

const finished = async (s: Stack, project: string) => sum(await s.scrape(), "gitlab_ci_jobs_finished_total", { project });
const pending = async (s: Stack, project: string, tags: string) => sum(await s.scrape(), "gitlab_ci_jobs_pending", { project, tags });

describe("counting with webhooks after a restart", () => {
  it("does not count the earlier builds a Pipeline Hook lists: a stage-2 finish counts 1", async () => {
    const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
    const api = world.addProject("acme/api");
    const pipeline = world.createPipeline(api.id);
    for (const name of ["compile", "unit", "lint"]) {
      const job = world.createJob(api.id, { name, stage: "build", tags: ["docker"], pipelineId: pipeline.id, status: "pending" });
      world.start(job.id, RUNNER);
      world.finish(job.id, "success");
    }
    const deploy = world.createJob(api.id, { name: "deploy", stage: "deploy", tags: ["docker"], pipelineId: pipeline.id, status: "pending" });
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: SECRET } });
    await waitReady(stack);
    await stack.restartExporter();
    await waitReady(stack);
    const sender = stack.webhooks();

    world.start(deploy.id, RUNNER);
    world.finish(deploy.id, "failed", "script_failure");
    await sender.flush();
    expect(sender.stats.statuses.get(200)).toBeGreaterThanOrEqual(2);
    await eventually(async () => expect(await finished(stack!, "acme/api")).toBe(1));
    // Polls and further deliveries change nothing: the three stage-1 builds finished before the start.
    await sleep(500);
    const samples = await stack.scrape();
    expect(byLabels(samples, "gitlab_ci_jobs_finished_total", ["status", "failure_reason"])).toEqual(new Map([["failed|script_failure", 1]]));
  });
});

describe("jobs a scan of the newest jobs cannot reach", () => {
  it("finds at the first visit a job still pending behind 25 newer finished ones", async () => {
    const world = new GitLabWorld();
    const ml = world.addProject("acme/ml");
    world.createJob(ml.id, { name: "train", tags: ["gpu"], status: "pending" });
    finishedJobs(world, ml.id, 25);
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme" } });
    await waitReady(stack);
    await eventually(async () => expect(await pending(stack!, "acme/ml", "gpu")).toBe(1));
  });

  it("sees manual jobs played and delayed jobs started long after their pipeline, in idle and busy projects", async () => {
    const world = new GitLabWorld();
    const idle = world.addProject("acme/idle");
    const delayed = world.addProject("acme/delayed");
    const busy = world.addProject("acme/busy");
    const manual = world.createJob(idle.id, { name: "deploy", tags: ["deploy"] });
    world.setStatus(manual.id, "manual");
    finishedJobs(world, idle.id, 25);
    const scheduled = world.createJob(delayed.id, { name: "nightly", tags: ["nightly"] });
    world.setStatus(scheduled.id, "scheduled");
    finishedJobs(world, delayed.id, 25);
    // The busy project stays hot (a running job) and has more new jobs than one page of 100.
    const gate = world.createJob(busy.id, { name: "release", tags: ["release"] });
    world.setStatus(gate.id, "manual");
    finishedJobs(world, busy.id, 120);
    const running = world.createJob(busy.id, { name: "e2e", tags: ["docker"], status: "pending" });
    world.start(running.id, RUNNER);
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_IDLE_REQUESTS_PER_SECOND: "20" } });
    await waitReady(stack);
    await eventually(async () => expect(await sum(await stack!.scrape(), "gitlab_ci_jobs_running", { project: "acme/busy" })).toBe(1));

    world.enqueue(manual.id);
    world.enqueue(scheduled.id);
    world.enqueue(gate.id);
    await eventually(async () => {
      expect(await pending(stack!, "acme/idle", "deploy")).toBe(1);
      expect(await pending(stack!, "acme/delayed", "nightly")).toBe(1);
      expect(await pending(stack!, "acme/busy", "release")).toBe(1);
    });
    // And they are followed to the end, counted once.
    for (const job of [manual, scheduled, gate]) {
      world.start(job.id, RUNNER);
      world.finish(job.id, "success");
    }
    await eventually(async () => {
      for (const project of ["acme/idle", "acme/delayed", "acme/busy"]) {
        expect(await finished(stack!, project)).toBe(1);
        expect(await pending(stack!, project, "")).toBe(0);
      }
    });
  });

  it("counts every attempt of a retried job, also an attempt older than the newest page", async () => {
    const world = new GitLabWorld();
    const api = world.addProject("acme/api");
    const manual = world.createJob(api.id, { name: "migrate", tags: ["docker"] });
    world.setStatus(manual.id, "manual");
    finishedJobs(world, api.id, 120);
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme" } });
    await waitReady(stack);
    // Played, failed and retried between two visits: the failed attempt lies below a page of 100 newer jobs.
    world.enqueue(manual.id);
    world.start(manual.id, RUNNER);
    world.finish(manual.id, "failed", "runner_system_failure");
    const retry: SimJob = world.retry(manual.id);
    world.start(retry.id, RUNNER);
    world.finish(retry.id, "success");
    await eventually(async () => {
      const samples = await stack!.scrape();
      expect(byLabels(samples, "gitlab_ci_jobs_finished_total", ["status", "failure_reason"])).toEqual(
        new Map([
          ["failed|runner_system_failure", 1],
          ["success|", 1],
        ]),
      );
    });
  });
});

describe("a webhook about a job the exporter cannot place", () => {
  it("makes the project poll soon, and that poll finds the job in its pipeline even below the newest jobs", async () => {
    const world = new GitLabWorld();
    const api = world.addProject("acme/api");
    const manual = world.createJob(api.id, { name: "deploy", tags: ["deploy"] });
    world.setStatus(manual.id, "manual");
    finishedJobs(world, api.id, 120);
    // A round-robin visit every 100 s: only the webhook's poll can find the job in time.
    // REST alone: the GraphQL sweep would list the job before the webhook's poll.
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: SECRET, GITLAB_IDLE_REQUESTS_PER_SECOND: "0.01", GITLAB_READ_PATH: "rest" } });
    await waitReady(stack);
    const sender = stack.webhooks({ events: { job: true } });
    world.enqueue(manual.id);
    await sender.flush();
    await eventually(async () => expect(await pending(stack!, "acme/api", "deploy")).toBe(1), 5_000);
    expect(stack.gitlab.requests.count({ route: "/projects/:id/pipelines/:pipeline_id/jobs", projectId: api.id })).toBe(1);
  });
});

describe("what polling costs", () => {
  it("resolves projects listed in GITLAB_PROJECTS once, not at every discovery", async () => {
    const world = new GitLabWorld();
    const listed = Array.from({ length: 40 }, (_, i) => world.addProject(`listed/svc-${i}`).pathWithNamespace);
    stack = await startStack({ world, env: { GITLAB_PROJECTS: listed.join(","), GITLAB_DISCOVERY_INTERVAL_SECONDS: "1" } });
    await waitReady(stack);
    expect(stack.gitlab.requests.count({ route: "/projects/:id" })).toBe(40);
    stack.gitlab.requests.clear();
    await sleep(4_500);
    // About four rounds: each re-resolves at most ceil(40 projects × 1 s / 6 h) = 1 project.
    expect(stack.gitlab.requests.count({ route: "/projects/:id" })).toBeLessThanOrEqual(6);
  });

  it("does not keep a project hot for jobs left created behind a manual gate", async () => {
    const world = new GitLabWorld();
    const gated = world.addProject("acme/gated");
    world.addProject("acme/other");
    const pipeline = world.createPipeline(gated.id);
    const build = world.createJob(gated.id, { name: "build", stage: "build", tags: ["docker"], pipelineId: pipeline.id, status: "pending" });
    const deploy = world.createJob(gated.id, { name: "deploy", stage: "deploy", tags: ["deploy"], pipelineId: pipeline.id });
    const verify = world.createJob(gated.id, { name: "verify", stage: "verify", tags: ["docker"], pipelineId: pipeline.id });
    world.start(build.id, RUNNER);
    world.finish(build.id, "success");
    world.setStatus(deploy.id, "manual");
    expect(world.pipeline(pipeline.id)!.status).toBe("manual");
    stack = await startStack({
      world,
      env: { GITLAB_GROUPS: "acme", GITLAB_POLL_INTERVAL_SECONDS: "0.2", GITLAB_HOT_PROJECT_TTL_SECONDS: "1", GITLAB_IDLE_REQUESTS_PER_SECOND: "4" },
    });
    await waitReady(stack);
    await sleep(1_500);
    stack.gitlab.requests.clear();
    await sleep(3_000);
    // Hot, it would be polled every 0.2 s (15 scans); idle, it gets the round-robin's pipelines checks only.
    expect(stack.gitlab.requests.count({ route: "/projects/:id/jobs", projectId: gated.id })).toBe(0);
    const checks = stack.gitlab.requests.count({ route: "/projects/:id/pipelines", projectId: gated.id });
    expect(checks).toBeGreaterThanOrEqual(3);
    expect(checks).toBeLessThanOrEqual(9);
    expect(sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_projects", { state: "hot" })).toBe(0);

    // The gate opens: the pipelines check sees the pipeline change and the jobs move on.
    world.enqueue(deploy.id);
    await eventually(async () => expect(await pending(stack!, "acme/gated", "deploy")).toBe(1));
    world.start(deploy.id, RUNNER);
    world.finish(deploy.id, "success");
    world.enqueue(verify.id);
    await eventually(async () => {
      expect(await pending(stack!, "acme/gated", "docker")).toBe(1);
      expect(await finished(stack!, "acme/gated")).toBe(1);
    });
  });
});

describe("readiness", () => {
  it("reading by REST alone, answers 503 until discovery answered, then 200 while projects not read yet show as unread", async () => {
    const world = new GitLabWorld();
    const api = world.addProject("acme/api");
    world.addProject("acme/web");
    // Discovery fails first, then the first project's jobs cannot be read.
    const unreadable = new RegExp(`/projects/${api.id}/`);
    stack = await startStack({
      world,
      env: { GITLAB_GROUPS: "acme", GITLAB_REQUEST_TIMEOUT_SECONDS: "0.5", GITLAB_READ_PATH: "rest" },
      beforeExporter: (gitlab) => gitlab.faults.status(500, { path: /groups/ }),
    });
    await eventually(() => expect(stack!.gitlab.requests.count({ status: 500 })).toBeGreaterThan(0), 10_000);
    expect(await readyz(stack)).toBe(503);
    stack.gitlab.faults.clear();
    stack.gitlab.faults.status(500, { path: unreadable });
    await eventually(async () => expect(await readyz(stack!)).toBe(200), 10_000);
    await eventually(async () => expect(sum(await stack!.scrape(), "gitlab_ci_exporter_gitlab_projects_unread")).toBe(1), 10_000);
    stack.gitlab.faults.clear();
    await eventually(async () => expect(sum(await stack!.scrape(), "gitlab_ci_exporter_gitlab_projects_unread")).toBe(0), 10_000);
  });

  it("stays ready after the first sync when discovery adds a project that keeps failing", async () => {
    const world = new GitLabWorld();
    world.addProject("acme/api");
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_DISCOVERY_INTERVAL_SECONDS: "1", GITLAB_REQUEST_TIMEOUT_SECONDS: "0.5" } });
    await waitReady(stack);
    const broken = world.addProject("acme/broken");
    stack.gitlab.faults.status(500, { path: new RegExp(`/projects/${broken.id}(/|$)`) });
    await eventually(() => expect(stack!.gitlab.requests.count({ projectId: broken.id, status: 500 })).toBeGreaterThan(0), 10_000);
    for (let i = 0; i < 10; i++) {
      expect(await readyz(stack)).toBe(200);
      await sleep(200);
    }
  });
});

describe("projects that lose access and get it back", () => {
  it.each([
    ["discovered through a group", { GITLAB_GROUPS: "acme" }],
    ["listed in GITLAB_PROJECTS", { GITLAB_PROJECTS: "acme/api,acme/web" }],
  ] as const)("counts the jobs that finished meanwhile exactly once (%s)", async (_name, env) => {
    const world = new GitLabWorld();
    const api = world.addProject("acme/api");
    world.addProject("acme/web");
    finishedJobs(world, api.id, 2);
    const long = world.createJob(api.id, { name: "soak", tags: ["docker"], status: "pending" });
    world.start(long.id, RUNNER);
    stack = await startStack({ world, env: { ...env, GITLAB_DISCOVERY_INTERVAL_SECONDS: "1" } });
    await waitReady(stack);
    const early = world.createJob(api.id, { name: "early", tags: ["docker"], status: "pending" });
    world.start(early.id, RUNNER);
    world.finish(early.id, "success");
    await eventually(async () => {
      expect(await finished(stack!, "acme/api")).toBe(1);
      expect(sum(await stack!.scrape(), "gitlab_ci_jobs_running", { project: "acme/api" })).toBe(1);
    });

    world.setProjectAccess(api.id, "forbidden");
    await eventually(async () => expect((await stack!.scrape()).filter((s) => s.labels.project === "acme/api")).toEqual([]));
    // Meanwhile the job that was running ends, and a new one runs and fails.
    world.finish(long.id, "success");
    const meanwhile = world.createJob(api.id, { name: "meanwhile", tags: ["docker"], status: "pending" });
    world.start(meanwhile.id, RUNNER);
    world.finish(meanwhile.id, "failed", "script_failure");
    // While it is unreadable, discovery does not flap it back in: no series, no fresh baseline.
    stack.gitlab.requests.clear();
    for (let i = 0; i < 10; i++) {
      expect((await stack.scrape()).filter((s) => s.labels.project === "acme/api")).toEqual([]);
      await sleep(200);
    }
    expect(stack.gitlab.requests.filter((r) => r.projectId === api.id && r.route === "/projects/:id/jobs" && r.query.get("per_page") === "20")).toEqual([]);

    world.setProjectAccess(api.id, "ok");
    // Its counters started again when its series were dropped: the two jobs that ended meanwhile.
    await eventually(async () => {
      const samples = await stack!.scrape();
      expect(byLabels(samples, "gitlab_ci_jobs_finished_total", ["project", "status", "failure_reason"])).toEqual(
        new Map([
          ["acme/api|success|", 1],
          ["acme/api|failed|script_failure", 1],
        ]),
      );
    }, 20_000);
    await sleep(1_000);
    expect(await finished(stack, "acme/api")).toBe(2);
  }, 40_000);
});

describe("a group with no projects yet", () => {
  it("is fresh, not stale, while discovery answers: the last-success timestamp keeps advancing", async () => {
    const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
    world.addGroup("empty");
    stack = await startStack({ world, env: { GITLAB_GROUPS: "empty" } });
    await waitReady(stack);
    const last = async () => sum(await stack!.scrape(), "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds");
    const first = await eventually(async () => {
      const value = await last();
      expect(value).toBeGreaterThan(0);
      return value;
    });
    // Discovery runs every 300 s; polling windows of 0.2 s close in between with nothing to ask.
    await eventually(async () => expect(await last()).toBeGreaterThan(first));
    const health = (await (await fetch(`${stack.exporter.url}/readyz`)).json()) as { sources: Array<{ name: string; stale: boolean }> };
    expect(health.sources.find((s) => s.name === "gitlab")?.stale).toBe(false);
  });
});
