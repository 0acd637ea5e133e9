import { afterEach, describe, expect, it } from "vitest";
import { byLabels, eventually, sum } from "../helpers/prom.js";
import { startStack, waitReady, type Stack } from "../helpers/stack.js";
import { pipelinesFinishedTruth } from "../helpers/truth.js";
import { GitLabWorld, type SimPipeline } from "../../src/simulator/gitlab/index.js";

const RUNNER = { id: 11, description: "eks-spot-runner" };
type Final = "success" | "failed" | "canceled" | "skipped";

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Runs a new pipeline of the project to `status` through its jobs, as GitLab derives it. */
function runPipeline(world: GitLabWorld, projectId: number, status: Final, parent?: SimPipeline): SimPipeline {
  const pipeline = parent ? world.createChildPipeline(parent.id) : world.createPipeline(projectId);
  if (status === "skipped") {
    const job = world.createJob(projectId, { name: "deploy", pipelineId: pipeline.id, status: "created" });
    world.setStatus(job.id, "skipped");
    return pipeline;
  }
  const jobs = [world.createJob(projectId, { name: "build", pipelineId: pipeline.id, status: "pending" }), world.createJob(projectId, { name: "test", pipelineId: pipeline.id, status: "pending" })];
  for (const job of jobs) {
    if (status !== "canceled") world.start(job.id, RUNNER);
    if (status === "failed" && job === jobs[1]) world.finish(job.id, "failed", "script_failure");
    else world.finish(job.id, status === "canceled" ? "canceled" : "success");
  }
  return pipeline;
}

/** Two projects with history: pipelines that finished before the exporter started, and one running at its start. */
function seededWorld(): { world: GitLabWorld; live: SimPipeline } {
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  const api = world.addProject("acme/api");
  world.addProject("acme/web");
  for (const status of ["success", "failed", "canceled", "skipped", "success"] as const) runPipeline(world, api.id, status);
  const live = world.createPipeline(api.id);
  const job = world.createJob(api.id, { name: "build", pipelineId: live.id, status: "pending" });
  world.start(job.id, RUNNER);
  return { world, live };
}

/** A known mix of final statuses in both projects, a child pipeline among them (left out, as the pipelines API leaves it out). */
function finishPipelines(world: GitLabWorld): void {
  const api = world.project("acme/api")!;
  const web = world.project("acme/web")!;
  const mix: Array<[number, Final]> = [
    [api.id, "success"],
    [api.id, "success"],
    [api.id, "failed"],
    [web.id, "success"],
    [web.id, "canceled"],
    [web.id, "skipped"],
    [web.id, "failed"],
  ];
  for (const [projectId, status] of mix) runPipeline(world, projectId, status);
  const parent = runPipeline(world, api.id, "success");
  runPipeline(world, api.id, "success", parent);
}

async function expectCounterMatches(s: Stack, sinceMs: number): Promise<void> {
  await eventually(async () => {
    const samples = await s.scrape();
    expect(byLabels(samples, "gitlab_ci_pipelines_finished_total", ["project", "status"])).toEqual(pipelinesFinishedTruth(s.world, sinceMs));
  });
}

/** Hook times are whole seconds: what finishes from here on finishes in a later second than the exporter's start. */
async function nextSecond(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  return Date.now();
}

describe("gitlab_ci_pipelines_finished_total against the simulator's ground truth", () => {
  it("counts the pipelines that finish under its watch by polling alone, never the history", async () => {
    const { world, live } = seededWorld();
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme" } });
    await waitReady(stack);
    const since = await nextSecond();
    expect(sum(await stack.scrape(), "gitlab_ci_pipelines_finished_total")).toBe(0);

    world.finish(world.pipelineJobs(live.id)[0]!.id, "success");
    finishPipelines(world);
    const truth = pipelinesFinishedTruth(world, since);
    // The mix above, the pipeline running at start, and no child.
    expect([...truth.values()].reduce((a, b) => a + b, 0)).toBe(9);
    await expectCounterMatches(stack, since);
  });

  it("counts them by webhooks alone, and once when polling sees them too", async () => {
    const { world, live } = seededWorld();
    stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: "hook-secret" } });
    await waitReady(stack);
    const since = await nextSecond();
    const sender = stack.webhooks({ duplicateRatio: 0.3 });
    // The pipelines listing fails: only Pipeline Hooks tell how pipelines end.
    const listing = /\/projects\/\d+\/pipelines$/;
    stack.gitlab.faults.status(503, { path: listing });
    const servedBefore = stack.gitlab.faults.served;

    world.finish(world.pipelineJobs(live.id)[0]!.id, "success");
    finishPipelines(world);
    await sender.flush();
    await expectCounterMatches(stack, since);
    expect(stack.gitlab.faults.served).toBeGreaterThan(servedBefore);
    expect(sum(await stack.scrape(), "gitlab_ci_pipelines_finished_total")).toBe(9);

    // Polling reads the pipelines again, those the hooks told included, and more finish seen by both.
    stack.gitlab.faults.clear();
    const clearedAt = Date.now();
    finishPipelines(world);
    await sender.flush();
    const listed = () => stack!.gitlab.requests.count((r) => r.at >= clearedAt && r.route === "/projects/:id/pipelines" && r.status === 200);
    await eventually(() => expect(listed()).toBeGreaterThan(4));
    await expectCounterMatches(stack, since);
    const samples = await stack.scrape();
    // Nine before, eight more (the mix and the parent; never the child).
    expect(sum(samples, "gitlab_ci_pipelines_finished_total")).toBe(17);
    expect(sum(samples, "gitlab_ci_pipelines_finished_total", { status: "success" })).toBe(9);
    expect(sum(samples, "gitlab_ci_exporter_webhook_events_total", { event: "Pipeline Hook", outcome: "duplicate" })).toBeGreaterThan(0);
  });
});
