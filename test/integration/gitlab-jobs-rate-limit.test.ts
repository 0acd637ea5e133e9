import { afterEach, describe, expect, it } from "vitest";
import { GitLabWorld } from "../../src/simulator/gitlab/index.js";
import { sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";

const RUNNER = { id: 11, description: "eks-spot-runner" };
const JOBS_ROUTE = "/projects/:id/jobs";
/** The exporter's backoff after a 429 that names no wait: 5 s doubling, each wait at least half its step. */
const FIRST_WAIT_MS = 2_500;
const OBSERVED_MS = 13_000;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe("GitLab's own limit on the project jobs endpoint", () => {
  it("a 429 without Retry-After: every request waits a growing backoff, and the endpoint is not hammered", async () => {
    const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
    for (const path of ["acme/api", "acme/web"]) {
      const project = world.addProject(path);
      world.createJob(project.id, { name: "build", tags: ["docker"], status: "pending" });
      const running = world.createJob(project.id, { name: "test", tags: [], status: "pending" });
      world.start(running.id, RUNNER);
    }
    // Two hot projects polled every 0.2 s spend 20 jobs requests in about two seconds. One
    // request in flight at a time: whatever reaches GitLab after a 429 left after it was read.
    stack = await startStack({
      world,
      env: { GITLAB_GROUPS: "acme", GITLAB_MAX_CONCURRENT_REQUESTS: "1" },
      projectJobsRateLimitPerMinute: 20,
      rateLimitWindowStart: Date.now(),
    });
    await waitReady(stack);
    const log = stack.gitlab.requests.log;
    const refusedAt = () => log.filter((r) => r.route === JOBS_ROUTE && r.status === 429).map((r) => r.at);
    const deadline = Date.now() + 10_000;
    while (refusedAt().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const first = refusedAt()[0];
    expect(first, "the jobs endpoint's quota was spent").toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, first! + OBSERVED_MS - Date.now()));

    const refusals = refusedAt().filter((at) => at <= first! + OBSERVED_MS);
    // Hammering at the stack's 200 requests a second would be hundreds; the backoff (2.5-5 s,
    // then 5-10 s, then 10-20 s) allows two or three in 13 s.
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    expect(refusals.length).toBeLessThanOrEqual(3);
    refusals.slice(1).forEach((at, i) => expect(at - refusals[i]!).toBeGreaterThanOrEqual(FIRST_WAIT_MS * 2 ** i - 50));
    // After each 429 nothing at all reaches GitLab before the wait is over: the pause holds every route.
    for (const at of refusals) {
      const next = log.find((r) => r.at > at);
      if (next) expect(next.at - at).toBeGreaterThanOrEqual(FIRST_WAIT_MS - 50);
    }
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_gitlab_requests_total", { endpoint: JOBS_ROUTE, code: "429" })).toBe(refusedAt().length);
    // The other routes still answer: the limit is the jobs endpoint's own.
    expect(log.filter((r) => r.route !== JOBS_ROUTE && r.at > first!).every((r) => r.status === 200)).toBe(true);
  }, 40_000);
});
