import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, type SimJob } from "../../src/simulator/gitlab/index.js";
import { eventually, sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";

const RUNNER = { id: 1, description: "runner" };
const WEEK_MS = 7 * 24 * 60 * 60_000;

/** The production defaults of everything that paces GitLab reads (the test stack speeds them up otherwise). */
const DEFAULT_PACE = {
  GITLAB_POLL_INTERVAL_SECONDS: "30",
  GITLAB_SWEEP_INTERVAL_SECONDS: "30",
  GITLAB_MAX_REQUESTS_PER_SECOND: "5",
  GITLAB_IDLE_REQUESTS_PER_SECOND: "0.5",
  GITLAB_MAX_CONCURRENT_REQUESTS: "4",
  GITLAB_REQUEST_TIMEOUT_SECONDS: "30",
  GITLAB_HOT_PROJECT_TTL_SECONDS: "600",
};

describe("1,000 projects in groups, no webhooks, the default budget, in real time", () => {
  const PROJECTS = 1000;
  const ACTIVE = 20;
  /** The README's bound: one sweep interval plus one sweep's requests at the budget, with room for the REST reads sharing it. */
  const BOUND_S = 60;
  let stack: Stack;
  let idleProject: string;
  let childProject: string;
  let childJob: SimJob;
  let readyAfterS: number;

  beforeAll(async () => {
    // History is made a week ago: every project last ran a pipeline then. The two projects that
    // change are far down the list, where the REST round gets at the idle rate only after 20 minutes.
    let lagMs = WEEK_MS;
    const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com", now: () => Date.now() - lagMs });
    for (let i = 0; i < PROJECTS; i++) {
      const project = world.addProject(`fleet/team-${i % 10}/squad-${i % 7}/service-${i}`);
      const job = world.createJob(project.id, { name: "build", tags: ["docker"], status: "pending" });
      world.start(job.id, RUNNER);
      world.finish(job.id, "success");
      if (i === 800) {
        // A parent pipeline that finished a week ago, whose child pipeline waits at a manual job.
        const child = world.createChildPipeline(world.job(job.id)!.pipelineId);
        childJob = world.createJob(project.id, { name: "deploy-child", tags: ["child"], pipelineId: child.id });
        world.setStatus(childJob.id, "manual");
        childProject = project.pathWithNamespace;
      }
      if (i === 700) idleProject = project.pathWithNamespace;
    }
    lagMs = 0;
    for (const project of world.projects().slice(-ACTIVE)) world.start(world.createJob(project.id, { name: "test", tags: ["docker"], status: "pending" }).id, RUNNER);
    const started = Date.now();
    stack = await startStack({ world, env: { GITLAB_GROUPS: "fleet", ...DEFAULT_PACE } });
    await waitReady(stack, 60_000);
    readyAfterS = (Date.now() - started) / 1000;
  }, 90_000);

  afterAll(async () => {
    await stack?.close();
  });

  it("shows a job turning pending in a project idle for a week, and in a child pipeline, within 60 s, at the stated request rate", async () => {
    const { world } = stack;
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_gitlab_read_path", { path: "sweep" })).toBe(1);
    expect(sum(samples, "gitlab_ci_exporter_gitlab_last_sweep_requests")).toBe(Math.ceil(PROJECTS / 100));
    // The first sweep showed the active projects' live jobs before any REST visit of theirs.
    expect(sum(samples, "gitlab_ci_jobs_running")).toBe(ACTIVE);

    stack.gitlab.requests.clear();
    const t0 = Date.now();
    world.createJob(world.project(idleProject)!.id, { name: "surprise", tags: ["rare"], status: "pending" });
    world.enqueue(childJob.id);
    const seenAfterS = new Map<string, number>();
    await eventually(
      async () => {
        const now = await stack.scrape();
        const at = (Date.now() - t0) / 1000;
        for (const [name, project, tags] of [["idle", idleProject, "rare"], ["child", childProject, "child"]] as const) {
          if (!seenAfterS.has(name) && sum(now, "gitlab_ci_jobs_pending", { project, tags }) === 1) seenAfterS.set(name, at);
        }
        expect([...seenAfterS.keys()].sort()).toEqual(["child", "idle"]);
      },
      BOUND_S * 1000,
      250,
    );
    // The request rate over one more sweep interval: what a quiet fleet costs.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 45_000 - (Date.now() - t0))));
    const windowS = (Date.now() - t0) / 1000;
    const log = stack.gitlab.requests.log;
    const graphql = log.filter((r) => r.route === "/graphql").length;
    const rest = log.length - graphql;
    // Sweeps of 10 requests every 30 s, REST first visits and checks at the idle rate, hot polls of the active projects once visited.
    const stated = Math.ceil(PROJECTS / 100) / 30 + 0.5 + ACTIVE / 30;
    console.log(
      `sweep: ready after ${readyAfterS.toFixed(1)} s; pending seen after ${seenAfterS.get("idle")!.toFixed(1)} s (idle project), ` +
        `${seenAfterS.get("child")!.toFixed(1)} s (child pipeline); ${(log.length / windowS).toFixed(2)} req/s over ${windowS.toFixed(0)} s ` +
        `(${(graphql / windowS).toFixed(2)} GraphQL, ${(rest / windowS).toFixed(2)} REST; stated at most ${stated.toFixed(2)})`,
    );
    expect(log.length / windowS).toBeLessThanOrEqual(stated * 1.2);
    expect(graphql).toBeGreaterThanOrEqual(Math.ceil(PROJECTS / 100));
    expect(graphql).toBeLessThanOrEqual(Math.ceil(PROJECTS / 100) * Math.ceil(windowS / 30 + 1));
  }, 120_000);
});

describe("readiness at 5,000 projects in groups, the default budget, in real time", () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  function fleet(): GitLabWorld {
    const world = new GitLabWorld();
    for (let i = 0; i < 5000; i++) world.addProject(`estate/dept-${i % 20}/team-${i % 13}/app-${i}`);
    const all = world.projects();
    for (let i = 0; i < 40; i++) world.createJob(all[i * 111]!.id, { name: `job-${i}`, tags: ["k8s"], status: "pending" });
    return world;
  }

  async function readyAfterS(graphql: "enabled" | "disabled"): Promise<{ seconds: number; pending: number; unread: number }> {
    const started = Date.now();
    stack = await startStack({ world: fleet(), graphql, env: { GITLAB_GROUPS: "estate", ...DEFAULT_PACE } });
    await waitReady(stack, 45_000, { allRead: false });
    const seconds = (Date.now() - started) / 1000;
    const samples = await stack.scrape();
    return { seconds, pending: sum(samples, "gitlab_ci_jobs_pending"), unread: sum(samples, "gitlab_ci_exporter_gitlab_projects_unread") };
  }

  it("is ready within 30 s with the GraphQL sweep, knowing every live job", async () => {
    const { seconds, pending, unread } = await readyAfterS("enabled");
    console.log(`readiness, 5,000 projects, GraphQL sweep: ${seconds.toFixed(1)} s (discovery 50 pages + 50 sweep requests at 5/s); ${pending} pending jobs known`);
    expect(seconds).toBeLessThanOrEqual(30);
    expect(pending).toBe(40);
    expect(unread).toBe(0);
  }, 60_000);

  it("is ready within 15 s on REST alone, after discovery, with the projects not read yet shown as unread", async () => {
    const { seconds, unread } = await readyAfterS("disabled");
    console.log(`readiness, 5,000 projects, REST alone: ${seconds.toFixed(1)} s (discovery, 50 pages at 5/s); ${unread} projects unread then`);
    expect(seconds).toBeLessThanOrEqual(15);
    expect(unread).toBeGreaterThan(4900);
  }, 60_000);
});

describe("GitLab's GraphQL refused", () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it.each(["disabled", "forbidden"] as const)("falls back to REST when GraphQL is %s, says so in the metric and /readyz, and still shows pending jobs", async (mode) => {
    const world = new GitLabWorld();
    const projects = Array.from({ length: 20 }, (_, i) => world.addProject(`acme/service-${i}`));
    stack = await startStack({ world, graphql: mode, env: { GITLAB_GROUPS: "acme" } });
    await waitReady(stack);
    const readyz = (await (await fetch(`${stack.exporter.url}/readyz`)).json()) as { sources: Array<{ name: string; readPath?: string }> };
    expect(readyz.sources.find((s) => s.name === "gitlab")?.readPath).toBe("rest");
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_gitlab_read_path", { path: "rest" })).toBe(1);
    expect(sum(samples, "gitlab_ci_exporter_gitlab_read_path", { path: "sweep" })).toBe(0);
    world.createJob(projects[7]!.id, { name: "late", tags: ["rest"], status: "pending" });
    await eventually(async () => expect(sum(await stack!.scrape(), "gitlab_ci_jobs_pending", { project: "acme/service-7", tags: "rest" })).toBe(1), 10_000);
    // One probe, then no GraphQL until the retry 10 minutes later.
    expect(stack.gitlab.requests.count({ route: "/graphql" })).toBe(1);
  });
});

describe("projects named one by one", () => {
  it("sweeps the projects of GITLAB_PROJECTS by id, 50 a request, and shows their live jobs before any REST visit", async () => {
    const world = new GitLabWorld();
    const named = Array.from({ length: 60 }, (_, i) => world.addProject(`solo/app-${i}`));
    for (const project of named) world.createJob(project.id, { name: "build", tags: ["solo"], status: "pending" });
    // Idle REST: only the sweep can show all 60 pending jobs within the test.
    const stack = await startStack({ world, env: { GITLAB_PROJECTS: named.map((p) => p.pathWithNamespace).join(","), GITLAB_IDLE_REQUESTS_PER_SECOND: "0.01" } });
    try {
      await waitReady(stack);
      const samples = await stack.scrape();
      expect(sum(samples, "gitlab_ci_exporter_gitlab_read_path", { path: "sweep" })).toBe(1);
      expect(sum(samples, "gitlab_ci_jobs_pending", { tags: "solo" })).toBe(60);
      expect(sum(samples, "gitlab_ci_exporter_gitlab_last_sweep_requests")).toBe(2);
    } finally {
      await stack.close();
    }
  });
});

describe("instance mode", () => {
  const ADMIN = "glpat-administrator-token-000000000";
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  function fleet(projects: number, live: number): GitLabWorld {
    const world = new GitLabWorld();
    for (let i = 0; i < projects; i++) world.addProject(`corp/unit-${i % 25}/app-${i}`);
    const all = world.projects();
    for (let i = 0; i < live; i++) world.createJob(all[(i * 37) % projects]!.id, { name: `job-${i}`, tags: ["k8s"], status: "pending" });
    // Jobs of a project nobody watches are passed over.
    const elsewhere = world.addProject("other/outside");
    world.createJob(elsewhere.id, { name: "foreign", tags: ["k8s"], status: "pending" });
    return world;
  }

  it("reads the live jobs of 5,000 projects in ceil(live jobs / 100) GraphQL requests a sweep with an administrator's token", async () => {
    const LIVE = 250;
    stack = await startStack({ world: fleet(5000, LIVE), adminToken: ADMIN, env: { GITLAB_TOKEN: ADMIN, GITLAB_GROUPS: "corp", GITLAB_SWEEP_INTERVAL_SECONDS: "1" } });
    await waitReady(stack, 30_000);
    stack.gitlab.requests.clear();
    await eventually(async () => {
      const samples = await stack!.scrape();
      expect(sum(samples, "gitlab_ci_exporter_gitlab_read_path", { path: "instance" })).toBe(1);
      expect(sum(samples, "gitlab_ci_jobs_pending")).toBe(LIVE);
      expect(sum(samples, "gitlab_ci_exporter_gitlab_sweeps_total", { path: "instance", outcome: "ok" })).toBeGreaterThanOrEqual(3);
    }, 15_000);
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_gitlab_last_sweep_requests")).toBe(Math.ceil(LIVE / 100));
    const sweeps = sum(samples, "gitlab_ci_exporter_gitlab_sweeps_total", { path: "instance" });
    // Requests per sweep, from what GitLab received: the count grows by 3 per sweep, whatever the 5,000 projects.
    expect(stack.gitlab.requests.count({ route: "/graphql" }) / Math.max(1, sweeps - 1)).toBeLessThanOrEqual(Math.ceil(LIVE / 100) + 1);
  }, 60_000);

  it("falls back to the group sweep with a token that is no administrator's, and says so in the log", async () => {
    const logs: string[] = [];
    stack = await startStack({ world: fleet(300, 30), logs, env: { GITLAB_GROUPS: "corp", GITLAB_READ_PATH: "instance" } });
    await waitReady(stack);
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_gitlab_read_path", { path: "sweep" })).toBe(1);
    expect(sum(samples, "gitlab_ci_jobs_pending")).toBe(30);
    expect(logs.some((line) => line.includes("does not see the instance's jobs"))).toBe(true);
  });
});
