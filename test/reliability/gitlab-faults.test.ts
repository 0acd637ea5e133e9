import { afterAll, describe, expect, it } from "vitest";
import { GitLabWorld, type GitLabFaults } from "../../src/simulator/gitlab/index.js";
import { byLabels, eventually, sum, type Sample } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";
import { finishedTruth, liveTruth } from "../helpers/truth.js";

const RUNNER = { id: 1, description: "runner" };
const tried: string[] = [];
/** Faulty answers the simulator actually served, over every scenario. */
let served = 0;

afterAll(() => {
  console.log(`GitLab fault injection: ${tried.length} scenarios (${tried.join(", ")}), ${served} faulty answers served`);
});

function world(): GitLabWorld {
  const w = new GitLabWorld();
  const api = w.addProject("acme/api");
  w.addProject("acme/web");
  w.createJob(api.id, { name: "build", tags: ["docker"], status: "pending" });
  const running = w.createJob(api.id, { name: "test", tags: [], status: "pending" });
  w.start(running.id, RUNNER);
  return w;
}

const jobFamilies = (samples: Sample[]) =>
  samples
    .filter((s) => s.name.startsWith("gitlab_ci_job"))
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .sort();

async function readyz(stack: Stack): Promise<{ status: number; body: { status: string; sources: Array<{ name: string; stale: boolean }> } }> {
  const response = await fetch(`${stack.exporter.url}/readyz`);
  return { status: response.status, body: (await response.json()) as never };
}

/**
 * One fault: the exporter keeps serving what it knew, shows the GitLab source as stale, and once
 * the fault ends converges on the truth with every job that finished meanwhile counted once.
 */
async function survive(name: string, arm: (faults: GitLabFaults, stack: Stack) => void, disarm?: (stack: Stack) => void): Promise<void> {
  tried.push(name);
  const stack = await startStack({ world: world(), env: { GITLAB_GROUPS: "acme", GITLAB_REQUEST_TIMEOUT_SECONDS: "0.5", GITLAB_DISCOVERY_INTERVAL_SECONDS: "1" } });
  try {
    await waitReady(stack);
    const readyAt = Date.now();
    await eventually(async () => expect(byLabels(await stack.scrape(), "gitlab_ci_jobs_pending", ["project", "tags"])).toEqual(liveTruth(stack.world, "pending")));
    await eventually(async () => expect(sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds")).toBeGreaterThan(0));
    const before = jobFamilies(await stack.scrape());

    arm(stack.gitlab.faults, stack);
    // Let in-flight successes land, then take the reference point.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const lastSuccess = sum(await stack.scrape(), "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds");
    expect(lastSuccess).toBeGreaterThan(readyAt / 1000 - 5);
    expect((await readyz(stack)).body.sources[0]!.stale).toBe(false);
    await eventually(async () => expect((await readyz(stack)).body.sources[0]!.stale).toBe(true), 10_000, 100);
    const during = await stack.scrape();
    expect(jobFamilies(during)).toEqual(before);
    expect(sum(during, "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds")).toBe(lastSuccess);
    expect((await readyz(stack)).status).toBe(200);

    // The world moves on while the exporter cannot see it.
    const api = stack.world.project("acme/api")!;
    for (const job of stack.world.jobs().filter((j) => j.status === "pending")) stack.world.start(job.id, RUNNER);
    for (const job of stack.world.jobs().filter((j) => j.status === "running")) stack.world.finish(job.id, "failed", "runner_system_failure");
    const fresh = stack.world.createJob(api.id, { name: "after", tags: ["docker"], status: "pending" });
    stack.world.start(fresh.id, RUNNER);
    stack.world.finish(fresh.id, "success");

    stack.gitlab.faults.clear();
    disarm?.(stack);
    await eventually(
      async () => {
        const samples = await stack.scrape();
        expect(byLabels(samples, "gitlab_ci_jobs_finished_total", ["project", "status", "failure_reason", "runner"])).toEqual(finishedTruth(stack.world, readyAt));
        expect(byLabels(samples, "gitlab_ci_jobs_pending", ["project", "tags"])).toEqual(liveTruth(stack.world, "pending"));
        expect(byLabels(samples, "gitlab_ci_jobs_running", ["project", "tags"])).toEqual(liveTruth(stack.world, "running"));
        expect(sum(samples, "gitlab_ci_exporter_gitlab_last_success_timestamp_seconds")).toBeGreaterThan(lastSuccess);
        expect((await readyz(stack)).body.status).toBe("ready");
      },
      15_000,
      100,
    );
    expect(stack.gitlab.faults.served).toBeGreaterThan(0);
  } finally {
    served += stack.gitlab.faults.served;
    await stack.close();
  }
}

describe.concurrent("the exporter survives GitLab faults and converges afterwards", () => {
  it("500 Internal Server Error", () => survive("500", (f) => f.status(500)));
  it("502 Bad Gateway", () => survive("502", (f) => f.status(502)));
  it("503 as an HTML error page", () => survive("503", (f) => f.status(503)));
  it("429 with Retry-After", () => survive("429 Retry-After", (f) => f.rateLimit({ retryAfterSeconds: 1 })));
  it("connection reset", () => survive("connection reset", (f) => f.resetConnection()));
  it("a response that never finishes", () => survive("hang", (f) => f.hang()));
  it("malformed JSON", () => survive("malformed JSON", (f) => f.malformedJson()));
  it("truncated JSON", () => survive("truncated JSON", (f) => f.truncatedJson()));
  it("an HTML page with status 200", () => survive("HTML 200", (f) => f.htmlErrorPage()));
  it("a pagination link that loops", () =>
    survive("pagination loop", (f) => {
      f.paginationLoop();
      // Only list endpoints that follow links can loop; everything else fails too so the outage is total.
      f.status(500, { path: /\/jobs/ });
    }));
});

describe("projects that disappear or lose access", () => {
  it.each([
    ["not_found", "404"],
    ["forbidden", "403"],
  ] as const)("drops a project answering %s and its series, and brings it back when it returns", async (access, code) => {
    tried.push(`project ${code}`);
    const stack = await startStack({ world: world(), env: { GITLAB_GROUPS: "acme", GITLAB_DISCOVERY_INTERVAL_SECONDS: "1" } });
    try {
      await waitReady(stack);
      const api = stack.world.project("acme/api")!;
      await eventually(async () => expect(sum(await stack.scrape(), "gitlab_ci_jobs_pending", { project: "acme/api" })).toBe(1));
      stack.world.setProjectAccess(api.id, access);
      await eventually(async () => {
        const samples = await stack.scrape();
        expect(samples.filter((s) => s.labels.project === "acme/api")).toEqual([]);
        expect(sum(samples, "gitlab_ci_exporter_gitlab_requests_total", { code })).toBeGreaterThan(0);
      });
      // Meanwhile its jobs move on: the pending one runs and fails, the running one succeeds, a
      // new one is queued and another new one finishes.
      const lostAt = Date.now();
      const [pending, running] = [stack.world.jobs().find((j) => j.status === "pending")!, stack.world.jobs().find((j) => j.status === "running")!];
      stack.world.start(pending.id, RUNNER);
      stack.world.finish(pending.id, "failed", "script_failure");
      stack.world.finish(running.id, "success");
      stack.world.createJob(api.id, { name: "queued", tags: ["docker"], status: "pending" });
      const quick = stack.world.createJob(api.id, { name: "quick", tags: [], status: "pending" });
      stack.world.start(quick.id, RUNNER);
      stack.world.finish(quick.id, "success");
      stack.world.setProjectAccess(api.id, "ok");
      // Back from zero with the jobs that finished while it was unreadable, each once.
      const counted = async () => byLabels(await stack.scrape(), "gitlab_ci_jobs_finished_total", ["project", "status", "failure_reason", "runner"]);
      await eventually(async () => {
        expect(sum(await stack.scrape(), "gitlab_ci_jobs_pending", { project: "acme/api" })).toBe(1);
        expect(await counted()).toEqual(finishedTruth(stack.world, lostAt));
      }, 15_000);
      expect([...finishedTruth(stack.world, lostAt).values()].reduce((a, b) => a + b, 0)).toBe(3);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await counted()).toEqual(finishedTruth(stack.world, lostAt));
    } finally {
      await stack.close();
    }
  });
});
