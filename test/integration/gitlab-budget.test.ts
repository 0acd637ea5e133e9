import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, type SimJob } from "../../src/simulator/gitlab/index.js";
import { eventually, sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";

/**
 * 1,000 configured projects of which 20 have live jobs, read by REST alone. Timings are scaled down from production
 * (0.25 s poll interval instead of 30 s) so the test runs in seconds; the ratios are about the
 * same (hot polls 80/s against 40 round-robin visits a second; the defaults are 0.67/s and 0.5/s).
 */
const PROJECTS = 1000;
const ACTIVE = 20;
const POLL_INTERVAL_S = 0.25;
const MAX_RPS = 150;
const IDLE_RPS = 40;
/**
 * The documented bound: every watched project, hot or idle, is visited once per round of
 * `projects / GITLAB_IDLE_REQUESTS_PER_SECOND` seconds (plus one request's latency).
 */
const BOUND_S = PROJECTS / IDLE_RPS;
const RUNNER = { id: 1, description: "runner" };

let stack: Stack;
const active: number[] = [];
/** Manual jobs below the watermark: in an idle project, and in a hot one behind 120 newer jobs. */
let idleGate: SimJob;
let hotGate: SimJob;

function finishedJobs(world: GitLabWorld, projectId: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const job = world.createJob(projectId, { name: `build-${i}`, tags: ["docker"], status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, "success");
  }
}

beforeAll(async () => {
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  for (let i = 0; i < PROJECTS; i++) {
    const project = world.addProject(`fleet/team-${i % 10}/service-${i}`);
    if (i === 1) {
      idleGate = world.createJob(project.id, { name: "release", tags: ["gate-idle"] });
      world.setStatus(idleGate.id, "manual");
      finishedJobs(world, project.id, 25);
    }
    if (i % (PROJECTS / ACTIVE) === 0) {
      active.push(project.id);
      if (i === 0) {
        hotGate = world.createJob(project.id, { name: "release", tags: ["gate-hot"] });
        world.setStatus(hotGate.id, "manual");
        finishedJobs(world, project.id, 120);
      }
      const job = world.createJob(project.id, { name: "deploy", tags: ["docker"], status: "pending" });
      world.start(job.id, RUNNER);
    }
  }
  stack = await startStack({
    world,
    env: {
      GITLAB_GROUPS: "fleet",
      // The REST path's costs and bound; the GraphQL sweep's are in gitlab-sweep.test.ts.
      GITLAB_READ_PATH: "rest",
      GITLAB_POLL_INTERVAL_SECONDS: String(POLL_INTERVAL_S),
      GITLAB_MAX_REQUESTS_PER_SECOND: String(MAX_RPS),
      GITLAB_IDLE_REQUESTS_PER_SECOND: String(IDLE_RPS),
      GITLAB_HOT_PROJECT_TTL_SECONDS: "1",
      // Time runs 120 times faster than in production, the simulator shares the test's event loop:
      // more requests in flight keep the round-robin at its rate (production: 5/s, 4 in flight).
      GITLAB_MAX_CONCURRENT_REQUESTS: "16",
    },
  });
  await waitReady(stack, 60_000);
}, 90_000);

afterAll(async () => {
  await stack?.close();
});

describe("request budget with 1,000 projects, 20 active", () => {
  it("stays within the budget and spends it mostly on the active projects", async () => {
    // Let the hot set settle (activity seen at the baselines expires after the 1 s TTL).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    stack.gitlab.requests.clear();
    const before = sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_requests_total");
    const windowMs = 5000;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_requests_total");
    const log = stack.gitlab.requests.log;
    const seconds = windowMs / 1000;

    const rate = log.length / seconds;
    const isActive = (id: number | undefined) => id !== undefined && active.includes(id);
    const onActive = log.filter((r) => isActive(r.projectId)).length;
    const onIdle = log.filter((r) => r.projectId !== undefined && !isActive(r.projectId));
    const exporterCount = after - before;
    console.log(
      `budget: ${rate.toFixed(1)} req/s (cap ${MAX_RPS}; expected ${ACTIVE} hot / ${POLL_INTERVAL_S} s + ${IDLE_RPS} visits/s = ${ACTIVE / POLL_INTERVAL_S + IDLE_RPS}); ` +
        `${((100 * onActive) / log.length).toFixed(0)}% on the ${ACTIVE} active projects; ${(onIdle.length / seconds).toFixed(1)} req/s on the ${PROJECTS - ACTIVE} idle ones; ` +
        `revisit bound ${BOUND_S.toFixed(1)} s`,
    );
    expect(rate).toBeLessThanOrEqual(MAX_RPS * 1.05);
    // Cost formula: one scan per hot project and interval, one pipelines check per round-robin visit.
    expect(rate).toBeLessThanOrEqual((ACTIVE / POLL_INTERVAL_S + IDLE_RPS) * 1.15);
    expect(onActive / log.length).toBeGreaterThan(0.5);
    // Each active project is polled about once per interval; each idle one far less often.
    const perActive = onActive / ACTIVE;
    const perIdle = onIdle.length / (PROJECTS - ACTIVE);
    expect(perActive).toBeGreaterThan(10 * perIdle);
    // An idle project costs one small request per visit when nothing changed: a pipelines check,
    // never a jobs scan. The few others read pipelines that changed (those updated just before the
    // start are read once at the first check).
    expect(onIdle.filter((r) => r.route === "/projects/:id/jobs")).toEqual([]);
    expect(onIdle.filter((r) => r.route === "/projects/:id/pipelines").length / onIdle.length).toBeGreaterThan(0.95);
    // The round-robin keeps an absolute schedule and catches up at most 1 s of lag, so a 5 s window may hold 6 s of visits.
    expect(onIdle.length / seconds).toBeLessThanOrEqual(IDLE_RPS * 1.25);
    // The exporter's own request counter agrees with what the server saw (within the scrape skew).
    expect(Math.abs(exporterCount - log.length)).toBeLessThan(MAX_RPS * 0.5);
  });

  it("shows a job that turns pending anywhere within the documented bound, also old-id jobs in idle and busy projects", async () => {
    const { world } = stack;
    const idle = world.projects().find((p) => !active.includes(p.id) && p.id !== idleGate.projectId)!;
    const started = Date.now();
    world.createJob(idle.id, { name: "surprise", tags: ["rare"], status: "pending" });
    world.enqueue(idleGate.id);
    world.enqueue(hotGate.id);
    const seen = new Map<string, number>();
    await eventually(
      async () => {
        const samples = await stack.scrape();
        const now = (Date.now() - started) / 1000;
        const check = (name: string, project: string, tags: string) => {
          if (!seen.has(name) && sum(samples, "gitlab_ci_jobs_pending", { project, tags }) === 1) seen.set(name, now);
        };
        check("new job in an idle project", idle.pathWithNamespace, "rare");
        check("manual job played in an idle project", world.project(idleGate.projectId)!.pathWithNamespace, "gate-idle");
        check("manual job played in a hot project", world.project(hotGate.projectId)!.pathWithNamespace, "gate-hot");
        expect([...seen.keys()].sort()).toEqual(["manual job played in a hot project", "manual job played in an idle project", "new job in an idle project"]);
      },
      (BOUND_S + 5) * 1000,
      100,
    );
    console.log(`seen after (bound ${BOUND_S.toFixed(1)} s): ${[...seen].map(([name, s]) => `${name} ${s.toFixed(1)} s`).join("; ")}`);
    for (const seconds of seen.values()) expect(seconds).toBeLessThanOrEqual(BOUND_S + 1);
  }, 60_000);
});
