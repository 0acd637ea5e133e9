import { afterEach, describe, expect, it } from "vitest";
import { byLabels, eventually, sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";
import { durationTruth, finishedTruth, liveTruth, oldestQueuedTruth, startedTruth } from "../helpers/truth.js";
import { GITLAB_PROFILES, GitLabWorld, jobHookBody, SELF_MANAGED_16_2, type GitLabProfile } from "../../src/simulator/gitlab/index.js";

const RUNNERS = [
  { id: 11, description: "eks-spot-runner" },
  { id: 12, description: "eks-ondemand-runner" },
];

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** A small fleet with history, live jobs on several tag sets, and two groups with a subgroup. */
function seededWorldOf(profile: GitLabProfile): GitLabWorld {
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com", profile });
  const api = world.addProject("acme/platform/api");
  const web = world.addProject("acme/web");
  world.addProject("acme/platform/infra/terraform");
  world.addProject("tools/lint");
  // History: finished before the exporter starts, must never be counted.
  for (let i = 0; i < 5; i++) {
    const job = world.createJob(api.id, { name: `old-${i}`, tags: ["docker"], status: "pending" });
    world.start(job.id, RUNNERS[0]!);
    world.finish(job.id, i % 2 === 0 ? "success" : "failed", i % 2 === 0 ? undefined : "script_failure");
  }
  // Live at start.
  world.createJob(api.id, { name: "build", tags: ["kaniko", "docker"], status: "pending" });
  world.createJob(api.id, { name: "test", tags: ["docker"], status: "pending" });
  const running = world.createJob(web.id, { name: "e2e", tags: [], status: "pending" });
  world.start(running.id, RUNNERS[1]!);
  return world;
}

async function expectLiveGaugesMatch(s: Stack): Promise<void> {
  await eventually(async () => {
    const samples = await s.scrape();
    expect(byLabels(samples, "gitlab_ci_jobs_pending", ["project", "tags"])).toEqual(liveTruth(s.world, "pending"));
    expect(byLabels(samples, "gitlab_ci_jobs_running", ["project", "tags"])).toEqual(liveTruth(s.world, "running"));
    const oldest = byLabels(samples, "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds", ["project", "tags"]);
    const truth = oldestQueuedTruth(s.world);
    expect([...oldest.keys()].sort()).toEqual([...truth.keys()].sort());
    for (const [key, value] of truth) expect(Math.abs(oldest.get(key)! - value)).toBeLessThan(0.5);
  });
}

async function expectCountersMatch(s: Stack, sinceMs: number): Promise<void> {
  await eventually(async () => {
    const samples = await s.scrape();
    expect(byLabels(samples, "gitlab_ci_jobs_finished_total", ["project", "status", "failure_reason", "runner"])).toEqual(finishedTruth(s.world, sinceMs));
    expect(byLabels(samples, "gitlab_ci_job_queued_duration_seconds_count", ["project"])).toEqual(startedTruth(s.world, sinceMs));
    expect(byLabels(samples, "gitlab_ci_job_duration_seconds_count", ["project", "status"])).toEqual(durationTruth(s.world, sinceMs));
  });
}

/**
 * The whole suite runs against every GitLab the simulator plays: GitLab.com, a current
 * self-managed instance (RateLimit-* only on the 429) and one before 16.3 (Job Hooks without the
 * `project` object, times as "… UTC").
 */
describe.each(Object.entries(GITLAB_PROFILES))("GitLab side against the simulator's ground truth, %s", (_, profile) => {
  const seededWorld = () => seededWorldOf(profile);

  it("exports pending, running, oldest queued, finished counts and histograms that equal the truth (polling only)", async () => {
    stack = await startStack({ world: seededWorld(), env: { GITLAB_GROUPS: "acme,tools" } });
    await waitReady(stack);
    const readyAt = Date.now();
    await expectLiveGaugesMatch(stack);
    let samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_jobs_finished_total")).toBe(0);

    const { world } = stack;
    const api = world.project("acme/platform/api")!;
    const terraform = world.project("acme/platform/infra/terraform")!;
    const lint = world.project("tools/lint")!;
    // The jobs live at start move on.
    for (const job of world.jobs().filter((j) => j.status === "pending")) world.start(job.id, RUNNERS[0]!);
    await expectLiveGaugesMatch(stack);
    for (const job of world.jobs().filter((j) => j.status === "running")) world.finish(job.id, "failed", "runner_system_failure");
    // New jobs in a busy project and in idle ones, including jobs that start and finish between two polls.
    const quick = world.createJob(lint.id, { name: "quick", tags: ["small"], status: "pending" });
    world.start(quick.id, RUNNERS[1]!);
    world.finish(quick.id, "success");
    const canceled = world.createJob(terraform.id, { name: "plan", tags: ["terraform"], status: "pending" });
    world.finish(canceled.id, "canceled");
    const stuck = world.createJob(terraform.id, { name: "apply", tags: ["terraform"], status: "pending" });
    const script = world.createJob(api.id, { name: "unit", tags: ["docker"], status: "pending" });
    world.start(script.id, RUNNERS[0]!);
    world.finish(script.id, "failed", "script_failure");

    await expectLiveGaugesMatch(stack);
    await expectCountersMatch(stack, readyAt);
    samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_jobs_finished_total", { failure_reason: "runner_system_failure" })).toBe(3);
    expect(sum(samples, "gitlab_ci_jobs_finished_total", { status: "canceled" })).toBe(1);
    expect(sum(samples, "gitlab_ci_jobs_pending", { project: "acme/platform/infra/terraform", tags: "terraform" })).toBe(1);

    // The stuck job finally runs: its pending series disappears rather than staying at zero.
    world.start(stuck.id, RUNNERS[0]!);
    await eventually(async () => {
      const now = await stack!.scrape();
      expect(now.filter((s) => s.name.startsWith("gitlab_ci_jobs_pending") && s.labels.project === "acme/platform/infra/terraform")).toEqual([]);
    });
  });

  it("counts each job once when polling and webhooks both see it", async () => {
    stack = await startStack({
      world: seededWorld(),
      env: { GITLAB_GROUPS: "acme,tools", GITLAB_WEBHOOK_SECRET: "hook-secret" },
    });
    await waitReady(stack);
    const readyAt = Date.now();
    const sender = stack.webhooks({ duplicateRatio: 0.3 });

    const { world } = stack;
    const web = world.project("acme/web")!;
    for (let i = 0; i < 30; i++) {
      const job = world.createJob(web.id, { name: `job-${i}`, tags: i % 2 ? ["docker"] : [], status: "pending" });
      world.start(job.id, RUNNERS[i % 2]!);
      if (i % 5 === 0) world.finish(job.id, "failed", i % 10 === 0 ? "runner_system_failure" : "script_failure");
      else world.finish(job.id, "success");
      if (i % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await sender.flush();
    await expectCountersMatch(stack, readyAt);
    await expectLiveGaugesMatch(stack);
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { outcome: "accepted" })).toBeGreaterThan(0);
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { outcome: "duplicate" })).toBeGreaterThan(0);
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { outcome: "invalid" })).toBe(0);
    expect([...sender.stats.statuses.keys()]).toEqual([200]);
  });

  it("does not replay history into counters after a restart", async () => {
    stack = await startStack({ world: seededWorld(), env: { GITLAB_GROUPS: "acme,tools" } });
    await waitReady(stack);
    const { world } = stack;
    const web = world.project("acme/web")!;
    const before = world.createJob(web.id, { name: "before", tags: [], status: "pending" });
    world.start(before.id, RUNNERS[0]!);
    world.finish(before.id, "success");
    await eventually(async () => expect(sum(await stack!.scrape(), "gitlab_ci_jobs_finished_total")).toBe(1));

    await stack.restartExporter();
    await waitReady(stack);
    const restartedAt = Date.now();
    await expectLiveGaugesMatch(stack);
    expect(sum(await stack.scrape(), "gitlab_ci_jobs_finished_total")).toBe(0);
    const after = world.createJob(web.id, { name: "after", tags: [], status: "pending" });
    world.start(after.id, RUNNERS[0]!);
    world.finish(after.id, "failed", "stuck_or_timeout_failure");
    await expectCountersMatch(stack, restartedAt);
    expect(sum(await stack.scrape(), "gitlab_ci_jobs_finished_total")).toBe(1);
  });

  it("honours Retry-After: no request starts after the 429 until the wait is over", async () => {
    // One request in flight at a time: any request that reaches GitLab after the 429 was started
    // after the exporter read the 429. With more in flight, one started just before the 429 came
    // back may legitimately arrive after it, which would say nothing about the wait.
    stack = await startStack({ world: seededWorld(), env: { GITLAB_GROUPS: "acme,tools", GITLAB_MAX_CONCURRENT_REQUESTS: "1" } });
    await waitReady(stack);
    stack.gitlab.requests.clear();
    stack.gitlab.faults.rateLimit({ retryAfterSeconds: 2, count: 1 });
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const log = stack.gitlab.requests.log;
    const limitedAt = log.findIndex((r) => r.status === 429);
    expect(limitedAt).toBeGreaterThanOrEqual(0);
    const limited = log[limitedAt]!;
    const next = log[limitedAt + 1];
    expect(next).toBeDefined();
    // `at` is when a request arrived; the 429 was read later still, and the pause ran from then.
    expect(next!.at - limited.at).toBeGreaterThanOrEqual(2000);
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_exporter_gitlab_requests_total", { code: "429" })).toBe(1);
    await expectLiveGaugesMatch(stack);
  });

  it(
    profile.deployment === "gitlab.com"
      ? "slows down when RateLimit-Remaining runs low instead of running into 429s"
      : "stops at the first 429 until its Retry-After, without RateLimit-* headers to warn it",
    async () => {
      // One quota window for the whole test. GitLab's windows start on the minute: a run across a
      // minute would get a fresh quota halfway and could rightly send more than one window allows.
      const windowStart = Date.now();
      stack = await startStack({ world: seededWorld(), env: { GITLAB_GROUPS: "acme,tools" }, rateLimitPerMinute: 40, rateLimitWindowStart: windowStart });
      await waitReady(stack);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const samples = await stack.scrape();
      const received = stack.gitlab.requests.log;
      expect(received.at(-1)!.at).toBeLessThan(windowStart + 60_000);
      const refused = received.filter((r) => r.status === 429);
      expect(sum(samples, "gitlab_ci_exporter_gitlab_requests_total", { code: "429" })).toBe(refused.length);
      if (profile.deployment === "gitlab.com") {
        expect(refused).toEqual([]);
        // Without the pause, 0.2 s polls of the hot projects alone would have sent far more.
        expect(received.length).toBeLessThanOrEqual(40);
      } else {
        // A self-managed GitLab says nothing until it refuses: the requests in flight then (four
        // at most) are refused, and nothing is sent after them until the window ends.
        expect(refused.length).toBeGreaterThanOrEqual(1);
        expect(refused.length).toBeLessThanOrEqual(4);
        expect(received.length).toBeLessThanOrEqual(40 + 4);
      }
      await expectLiveGaugesMatch(stack);
    },
  );
});

describe("an old-shape Job Hook (GitLab before 16.3, no project object)", () => {
  it("counts its job exactly once, whether it arrives once, again with its key, or beside polling", async () => {
    stack = await startStack({
      world: seededWorldOf(SELF_MANAGED_16_2),
      // Idle projects are revisited only every 400 s: the Job Hook is what tells of the job first.
      env: { GITLAB_GROUPS: "acme,tools", GITLAB_WEBHOOK_SECRET: "hook-secret", GITLAB_IDLE_REQUESTS_PER_SECOND: "0.01" },
    });
    await waitReady(stack);
    const readyAt = Date.now();
    const { world } = stack;
    const lint = world.project("tools/lint")!;
    // Every delivery twice with the same Idempotency-Key, as GitLab re-sends a failed one.
    const sender = stack.webhooks({ duplicateRatio: 1, events: { job: true }, projectIds: [lint.id] });

    const job = world.createJob(lint.id, { name: "lint", tags: ["small"], status: "pending" });
    world.start(job.id, RUNNERS[1]!);
    await sender.flush();
    // The deliveries of a live job made the project hot: polling reads the same job too.
    await eventually(() => expect(stack!.gitlab.requests.log.some((r) => r.projectId === lint.id && r.at > readyAt && r.route === "/projects/:id/jobs")).toBe(true));
    // The old hook gives whole seconds, read as the start of the second (never replaying
    // history): the job finishes in a second that begins after the exporter started.
    await new Promise((resolve) => setTimeout(resolve, 1010 - (Date.now() % 1000)));
    world.finish(job.id, "failed", "script_failure");
    const body = jobHookBody(world, job);
    expect(body).not.toHaveProperty("project");
    expect(body.build_finished_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    await sender.flush();

    // Hook and polling both tell of the finish: counted once.
    const finished = { project: "tools/lint", status: "failed", failure_reason: "script_failure" };
    await eventually(async () => expect(sum(await stack!.scrape(), "gitlab_ci_jobs_finished_total", finished)).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expectCountersMatch(stack, readyAt);
    const samples = await stack.scrape();
    expect(sum(samples, "gitlab_ci_jobs_finished_total")).toBe(1);
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { event: "Job Hook", outcome: "accepted" })).toBeGreaterThanOrEqual(1);
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { outcome: "duplicate" })).toBeGreaterThanOrEqual(3);
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { outcome: "invalid" })).toBe(0);
    expect([...sender.stats.statuses.keys()]).toEqual([200]);
  });
});
