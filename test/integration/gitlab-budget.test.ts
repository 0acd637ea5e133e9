import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld } from "../../src/simulator/gitlab/index.js";
import { eventually, sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";

/**
 * 1,000 configured projects of which 20 have live jobs. Timings are scaled down from production
 * (0.25 s poll interval instead of 30 s) so the test runs in seconds; the ratios are the same.
 */
const PROJECTS = 1000;
const ACTIVE = 20;
const POLL_INTERVAL_S = 0.25;
const MAX_RPS = 150;
const IDLE_RPS = 40;
/** The documented bound: idle projects / idle request rate (plus one request's latency). */
const IDLE_BOUND_S = (PROJECTS - ACTIVE) / IDLE_RPS;

let stack: Stack;
const active: number[] = [];

beforeAll(async () => {
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  for (let i = 0; i < PROJECTS; i++) {
    const project = world.addProject(`fleet/team-${i % 10}/service-${i}`);
    if (i % (PROJECTS / ACTIVE) === 0) {
      active.push(project.id);
      const job = world.createJob(project.id, { name: "deploy", tags: ["docker"], status: "pending" });
      world.start(job.id, { id: 1, description: "runner" });
    }
  }
  stack = await startStack({
    world,
    env: {
      GITLAB_GROUPS: "fleet",
      GITLAB_POLL_INTERVAL_SECONDS: String(POLL_INTERVAL_S),
      GITLAB_MAX_REQUESTS_PER_SECOND: String(MAX_RPS),
      GITLAB_IDLE_REQUESTS_PER_SECOND: String(IDLE_RPS),
      GITLAB_HOT_PROJECT_TTL_SECONDS: "1",
    },
  });
  await waitReady(stack, 60_000);
}, 90_000);

afterAll(async () => {
  await stack?.close();
});

describe("request budget with 1,000 projects, 20 active", () => {
  it("stays within the budget and spends it mostly on the active projects", async () => {
    // Let the hot set settle (baseline activity expires after the 1 s TTL).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    stack.gitlab.requests.clear();
    const before = sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_requests_total");
    const windowMs = 5000;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_requests_total");
    const log = stack.gitlab.requests.log;

    const rate = log.length / (windowMs / 1000);
    const onActive = log.filter((r) => r.projectId !== undefined && active.includes(r.projectId)).length;
    const exporterCount = after - before;
    console.log(
      `budget: ${rate.toFixed(1)} req/s (cap ${MAX_RPS}); ${((100 * onActive) / log.length).toFixed(0)}% on the ${ACTIVE} active projects; ` +
        `idle revisit bound ${IDLE_BOUND_S.toFixed(1)} s`,
    );
    expect(rate).toBeLessThanOrEqual(MAX_RPS * 1.05);
    expect(onActive / log.length).toBeGreaterThan(0.5);
    // Each active project is polled about once per interval; each idle one far less often.
    const perActive = onActive / ACTIVE;
    const perIdle = (log.length - onActive) / (PROJECTS - ACTIVE);
    expect(perActive).toBeGreaterThan(10 * perIdle);
    // The exporter's own request counter agrees with what the server saw (within the scrape skew).
    expect(Math.abs(exporterCount - log.length)).toBeLessThan(MAX_RPS * 0.5);
  });

  it("shows a job that turns pending in an idle project within the documented bound", async () => {
    const idle = stack.world.projects().find((p) => !active.includes(p.id))!;
    const created = Date.now();
    stack.world.createJob(idle.id, { name: "surprise", tags: ["rare"], status: "pending" });
    await eventually(
      async () => {
        const samples = await stack.scrape();
        expect(sum(samples, "gitlab_ci_jobs_pending", { project: idle.pathWithNamespace, tags: "rare" })).toBe(1);
      },
      (IDLE_BOUND_S + 5) * 1000,
      100,
    );
    const seenAfter = (Date.now() - created) / 1000;
    console.log(`idle project job seen after ${seenAfter.toFixed(1)} s (bound ${IDLE_BOUND_S.toFixed(1)} s)`);
    expect(seenAfter).toBeLessThanOrEqual(IDLE_BOUND_S + 1);
  }, 60_000);
});
