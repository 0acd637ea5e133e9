import { describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, type SimJob, type SimJobStatus, type SimPipelineStatus } from "../../../../src/simulator/gitlab/index.js";

const RUNNER = { id: 7, description: "eks-spot-runner" };

function setup() {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 10, 0, 0));
  const world = new GitLabWorld({ now: clock.now, baseUrl: "https://gitlab.example.com/" });
  const project = world.addProject("acme/platform/api");
  return { clock, world, project };
}

describe("GitLabWorld groups and projects", () => {
  it("creates parent groups implicitly and links them", () => {
    const { world } = setup();
    const platform = world.group("acme/platform")!;
    const acme = world.group("acme")!;
    expect(acme.parentId).toBeNull();
    expect(platform).toMatchObject({ fullPath: "acme/platform", name: "platform", path: "platform", parentId: acme.id });
    expect(world.group(platform.id)).toBe(platform);
    expect(world.group(String(platform.id))).toBe(platform);
    expect(world.addGroup("acme/platform")).toBe(platform);
    const deep = world.addGroup("infra/aws/eu");
    expect(world.group(deep.parentId!)!.fullPath).toBe("infra/aws");
  });

  it("describes a project the way the API needs it", () => {
    const { world, project } = setup();
    expect(project).toMatchObject({
      name: "api",
      path: "api",
      pathWithNamespace: "acme/platform/api",
      namespaceFullPath: "acme/platform",
      namespaceId: world.group("acme/platform")!.id,
      webUrl: "https://gitlab.example.com/acme/platform/api",
      archived: false,
      access: "ok",
    });
    expect(world.project(project.id)).toBe(project);
    expect(world.project(String(project.id))).toBe(project);
    expect(world.project("acme/platform/api")).toBe(project);
    expect(world.project("acme/nope")).toBeUndefined();
  });

  it("takes an explicit id, refuses duplicates and paths without a namespace", () => {
    const { world } = setup();
    const fixed = world.addProject("tools/lint", { id: 4217, archived: true });
    expect(fixed).toMatchObject({ id: 4217, archived: true });
    expect(world.addProject("tools/next").id).toBe(4218);
    expect(() => world.addProject("tools/lint")).toThrow(/exists/);
    expect(() => world.addProject("other/x", { id: 4217 })).toThrow(/taken/);
    expect(() => world.addProject("lonely")).toThrow(/namespace/);
  });

  it("lists a group's projects with or without subgroups", () => {
    const { world } = setup();
    world.addProject("acme/web");
    world.addProject("acme/platform/infra/terraform");
    world.addProject("acmecorp/other");
    const paths = (sub: boolean) => world.groupProjects("acme", sub).map((p) => p.pathWithNamespace).sort();
    expect(paths(false)).toEqual(["acme/web"]);
    expect(paths(true)).toEqual(["acme/platform/api", "acme/platform/infra/terraform", "acme/web"]);
    expect(world.groupProjects("missing", true)).toEqual([]);
  });

  it("switches a project's access and removes a project with its jobs", () => {
    const { world, project } = setup();
    world.setProjectAccess(project.id, "forbidden");
    expect(world.project(project.id)!.access).toBe("forbidden");
    const job = world.createJob(project.id, { name: "build", status: "pending" });
    world.removeProject(project.id);
    expect(world.project(project.id)).toBeUndefined();
    expect(world.job(job.id)).toBeUndefined();
    expect(world.pipeline(job.pipelineId)).toBeUndefined();
    expect(() => world.setProjectAccess(project.id, "ok")).toThrow(/not found/);
  });
});

describe("GitLabWorld jobs", () => {
  it("hands out global, strictly increasing job ids across projects", () => {
    const { world, project } = setup();
    const other = world.addProject("acme/web");
    const ids = [project, other, project, other].map((p) => world.createJob(p.id, { name: "x" }).id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(4);
  });

  it("walks created → pending → running → success with timestamps from the clock", () => {
    const { clock, world, project } = setup();
    const t0 = clock.now();
    const job = world.createJob(project.id, { name: "build", stage: "build", tags: ["kaniko", "docker"] });
    expect(job).toMatchObject({ status: "created", createdAt: t0, queuedAt: null, startedAt: null, finishedAt: null, runner: null, failureReason: null });
    expect(job.tags).toEqual(["kaniko", "docker"]);
    clock.advance(1000);
    world.enqueue(job.id);
    expect(job).toMatchObject({ status: "pending", queuedAt: t0 + 1000 });
    clock.advance(4000);
    world.start(job.id, RUNNER);
    expect(job).toMatchObject({ status: "running", startedAt: t0 + 5000, runner: { id: 7, description: "eks-spot-runner", tags: ["kaniko", "docker"] } });
    clock.advance(30_000);
    world.finish(job.id, "success");
    expect(job).toMatchObject({ status: "success", finishedAt: t0 + 35_000, failureReason: null });
  });

  it("queues a job created as pending at creation", () => {
    const { world, project, clock } = setup();
    const job = world.createJob(project.id, { name: "test", status: "pending" });
    expect(job.status).toBe("pending");
    expect(job.queuedAt).toBe(clock.now());
  });

  it("needs a reason to fail, and takes none otherwise", () => {
    const { world, project } = setup();
    const job = world.createJob(project.id, { name: "t", status: "pending" });
    world.start(job.id, RUNNER);
    expect(() => world.finish(job.id, "failed")).toThrow(/failure reason/);
    expect(() => world.finish(job.id, "success", "script_failure")).toThrow(/only goes with "failed"/);
    world.finish(job.id, "failed", "script_failure");
    expect(job.failureReason).toBe("script_failure");
  });

  it("cancels from pending or running, and fails a waiting job (stuck)", () => {
    const { world, project } = setup();
    const waiting = world.createJob(project.id, { name: "a", status: "pending" });
    world.finish(waiting.id, "canceled");
    expect(waiting).toMatchObject({ status: "canceled", startedAt: null });
    const running = world.createJob(project.id, { name: "b", status: "pending" });
    world.start(running.id, RUNNER);
    world.finish(running.id, "canceled");
    expect(running.status).toBe("canceled");
    const stuck = world.createJob(project.id, { name: "c", status: "pending" });
    world.finish(stuck.id, "failed", "stuck_or_timeout_failure");
    expect(stuck).toMatchObject({ status: "failed", failureReason: "stuck_or_timeout_failure", runner: null });
  });

  it.each<[string, (world: GitLabWorld, job: SimJob) => void]>([
    ["start a created job", (w, j) => w.start(j.id, RUNNER)],
    ["succeed a created job", (w, j) => w.finish(j.id, "success")],
  ])("refuses to %s", (_, act) => {
    const { world, project } = setup();
    const job = world.createJob(project.id, { name: "x" });
    expect(() => act(world, job)).toThrow(/cannot go from created to (running|success)/);
  });

  it("refuses transitions out of a final status and unknown jobs", () => {
    const { world, project } = setup();
    const job = world.createJob(project.id, { name: "x", status: "pending" });
    expect(() => world.finish(job.id, "success")).toThrow(/pending to success/);
    world.start(job.id, RUNNER);
    expect(() => world.enqueue(job.id)).toThrow(/running to pending/);
    world.finish(job.id, "success");
    expect(() => world.finish(job.id, "canceled")).toThrow(/success to canceled/);
    expect(() => world.start(999_999_999, RUNNER)).toThrow(/not found/);
    expect(() => world.createJob(123, { name: "x" })).toThrow(/not found/);
  });

  it("supports GitLab's other states", () => {
    const { world, project } = setup();
    const manual = world.createJob(project.id, { name: "deploy", stage: "deploy" });
    world.setStatus(manual.id, "manual");
    world.enqueue(manual.id);
    expect(manual.status).toBe("pending");
    const waiting = world.createJob(project.id, { name: "lock" });
    world.setStatus(waiting.id, "waiting_for_resource");
    world.setStatus(waiting.id, "preparing");
    world.enqueue(waiting.id);
    expect(waiting.status).toBe("pending");
    const skipped = world.createJob(project.id, { name: "later" });
    world.setStatus(skipped.id, "skipped");
    expect(skipped).toMatchObject({ status: "skipped", finishedAt: null });
    expect(() => world.setStatus(skipped.id, "manual")).toThrow(/skipped to manual/);
  });

  it("retries as a new pending job in the same pipeline and flags the old one", () => {
    const { world, project } = setup();
    const job = world.createJob(project.id, { name: "build", stage: "build", tags: ["docker"], allowFailure: true, status: "pending" });
    expect(() => world.retry(job.id)).toThrow(/only success, failed or canceled/);
    world.start(job.id, RUNNER);
    world.finish(job.id, "failed", "runner_system_failure");
    const retry = world.retry(job.id);
    expect(retry.id).toBeGreaterThan(job.id);
    expect(retry).toMatchObject({ name: "build", stage: "build", tags: ["docker"], pipelineId: job.pipelineId, allowFailure: true, status: "pending", retriesCount: 1, retried: false });
    expect(job.retried).toBe(true);
    expect(() => world.retry(job.id)).toThrow(/already retried/);
    world.start(retry.id, RUNNER);
    world.finish(retry.id, "canceled");
    expect(world.retry(retry.id).retriesCount).toBe(2);
  });

  it("tells listeners every status change with the previous status, until unsubscribed", () => {
    const { world, project } = setup();
    const seen: string[] = [];
    const off = world.onJobChange((job, previous) => seen.push(`${job.name}:${previous ?? "-"}>${job.status}`));
    const job = world.createJob(project.id, { name: "a", status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, "failed", "script_failure");
    off();
    world.createJob(project.id, { name: "b" });
    expect(seen).toEqual(["a:->created", "a:created>pending", "a:pending>running", "a:running>failed"]);
  });

  it("lists a project's jobs newest first, by status, from the live index for live statuses", () => {
    const { world, project } = setup();
    const other = world.addProject("acme/web");
    const statuses: SimJobStatus[] = [];
    for (let i = 0; i < 30; i++) {
      const job = world.createJob(i % 3 === 0 ? other.id : project.id, { name: `j${i}`, status: "pending" });
      if (i % 2 === 0) world.start(job.id, RUNNER);
      if (i % 4 === 0) world.finish(job.id, "success");
      statuses.push(job.status);
    }
    const all = world.projectJobs(project.id);
    expect(all.map((j) => j.id)).toEqual([...all.map((j) => j.id)].sort((a, b) => b - a));
    expect(all.every((j) => j.projectId === project.id)).toBe(true);
    const live = world.projectJobs(project.id, ["pending", "running"]);
    expect(live.map((j) => j.id)).toEqual(all.filter((j) => j.status === "pending" || j.status === "running").map((j) => j.id));
    expect(world.projectJobs(project.id, ["success"]).every((j) => j.status === "success")).toBe(true);
    expect(world.projectJobs(424242)).toEqual([]);
  });
});

describe("GitLabWorld pipelines", () => {
  it("derives the pipeline status from its jobs and reports changes", () => {
    const { world, project } = setup();
    const changes: string[] = [];
    world.onPipelineChange((pipeline, previous, jobs) => changes.push(`${previous}>${pipeline.status}(${jobs.length})`));
    const pipeline = world.createPipeline(project.id, { ref: "feature/x", source: "merge_request_event" });
    expect(pipeline).toMatchObject({ iid: 1, ref: "feature/x", source: "merge_request_event", status: "created", startedAt: null, finishedAt: null });
    expect(pipeline.sha).toMatch(/^[0-9a-f]{40}$/);
    const build = world.createJob(project.id, { name: "build", stage: "build", pipelineId: pipeline.id });
    const test = world.createJob(project.id, { name: "test", stage: "test", pipelineId: pipeline.id });
    world.enqueue(build.id);
    world.start(build.id, RUNNER);
    world.finish(build.id, "success");
    world.enqueue(test.id);
    world.start(test.id, RUNNER);
    world.finish(test.id, "failed", "script_failure");
    expect(changes).toEqual(["created>pending(2)", "pending>running(2)", "running>failed(2)"]);
    expect(pipeline.startedAt).toBe(build.startedAt);
    expect(pipeline.finishedAt).not.toBeNull();
    expect(world.pipelineJobs(pipeline.id).map((j) => j.name)).toEqual(["build", "test"]);
    world.retry(test.id);
    expect(pipeline.status).toBe("running");
    expect(pipeline.finishedAt).toBeNull();
    expect(world.createPipeline(project.id).iid).toBe(2);
  });

  it.each<[string, Array<[SimJobStatus, boolean?]>, SimPipelineStatus]>([
    ["all created", [["created"], ["created"]], "created"],
    ["pending and created", [["pending"], ["created"]], "pending"],
    ["success and created", [["success"], ["created"]], "running"],
    ["one running", [["running"], ["pending"]], "running"],
    ["success and skipped", [["success"], ["skipped"]], "success"],
    ["a failure", [["success"], ["failed"]], "failed"],
    ["an allowed failure", [["success"], ["failed", true]], "success"],
    ["canceled and success", [["canceled"], ["success"]], "canceled"],
    ["manual waiting", [["success"], ["manual"]], "manual"],
  ])("is %s → %s", (_, jobs, expected) => {
    const { world, project } = setup();
    const pipeline = world.createPipeline(project.id);
    for (const [status, allowFailure] of jobs) {
      const job = world.createJob(project.id, { name: status, pipelineId: pipeline.id, allowFailure: allowFailure ?? false });
      if (status === "created") continue;
      if (status === "manual" || status === "skipped") {
        world.setStatus(job.id, status);
        continue;
      }
      world.enqueue(job.id);
      if (status === "pending") continue;
      if (status === "canceled") {
        world.finish(job.id, "canceled");
        continue;
      }
      world.start(job.id, RUNNER);
      if (status === "success") world.finish(job.id, "success");
      if (status === "failed") world.finish(job.id, "failed", "script_failure");
    }
    expect(world.pipeline(pipeline.id)!.status).toBe(expected);
  });

  it("refuses a pipeline of another project", () => {
    const { world, project } = setup();
    const other = world.addProject("acme/web");
    const pipeline = world.createPipeline(other.id);
    expect(() => world.createJob(project.id, { name: "x", pipelineId: pipeline.id })).toThrow(/belongs to project/);
    expect(() => world.createJob(project.id, { name: "x", pipelineId: 1 })).toThrow(/pipeline 1 not found/);
  });
});

describe("GitLabWorld pruning", () => {
  it("forgets finished jobs past the horizon, with their pipelines, and keeps live ones", () => {
    const { clock, world, project } = setup();
    const old = world.createJob(project.id, { name: "old", status: "pending" });
    world.start(old.id, RUNNER);
    world.finish(old.id, "success");
    const live = world.createJob(project.id, { name: "live", status: "pending" });
    clock.advance(30_000);
    const recent = world.createJob(project.id, { name: "recent", status: "pending" });
    world.finish(recent.id, "canceled");
    clock.advance(40_000);
    expect(world.pruneFinished(60_000)).toBe(1);
    expect(world.job(old.id)).toBeUndefined();
    expect(world.pipeline(old.pipelineId)).toBeUndefined();
    expect(world.job(live.id)).toBe(live);
    expect(world.job(recent.id)).toBe(recent);
    expect(world.projectJobs(project.id).map((j) => j.name)).toEqual(["recent", "live"]);
    expect(world.pruneFinished(60_000)).toBe(0);
  });

  it("keeps memory flat over many lifecycles", () => {
    const { clock, world, project } = setup();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 200; i++) {
        const job = world.createJob(project.id, { name: "soak", status: "pending" });
        world.start(job.id, RUNNER);
        world.finish(job.id, "success");
      }
      clock.advance(1000);
      world.pruneFinished(2000);
    }
    expect(world.jobs().length).toBeLessThanOrEqual(600);
    expect(world.projectJobs(project.id).length).toBe(world.jobs().length);
  });
});
