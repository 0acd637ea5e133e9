import { describe, expect, it } from "vitest";
import { CiFleetScenario, GitLabWorld, ManualClock } from "../../../src/simulator/gitlab/index.js";

describe("GitLabWorld", () => {
  it("follows GitLab's job state machine and refuses invalid transitions", () => {
    const clock = new ManualClock();
    const world = new GitLabWorld({ now: clock.now });
    const project = world.addProject("acme/platform/api");
    const job = world.createJob(project.id, { name: "build", tags: ["docker"] });
    expect(job.status).toBe("created");
    expect(() => world.start(job.id, { id: 1, description: "r" })).toThrow(/created to running/);
    world.enqueue(job.id);
    clock.advance(5000);
    world.start(job.id, { id: 1, description: "r" });
    expect(job.startedAt! - job.queuedAt!).toBe(5000);
    expect(() => world.finish(job.id, "failed")).toThrow(/failure reason/);
    world.finish(job.id, "failed", "runner_system_failure");
    const retry = world.retry(job.id);
    expect(retry.id).toBeGreaterThan(job.id);
    expect(retry.status).toBe("pending");
    expect(job.retried).toBe(true);
  });

  it("creates parent groups and lists a group's projects with or without subgroups", () => {
    const world = new GitLabWorld();
    world.addProject("acme/web");
    world.addProject("acme/platform/infra/terraform");
    const acme = world.group("acme")!;
    expect(world.groupProjects(acme, false).map((p) => p.pathWithNamespace)).toEqual(["acme/web"]);
    expect(world.groupProjects(acme, true)).toHaveLength(2);
    expect(world.group("acme/platform")?.parentId).toBe(acme.id);
  });

  it("prunes old finished jobs but keeps live ones", () => {
    const clock = new ManualClock();
    const world = new GitLabWorld({ now: clock.now });
    const project = world.addProject("a/b");
    const done = world.createJob(project.id, { name: "x", status: "pending" });
    world.finish(done.id, "canceled");
    const live = world.createJob(project.id, { name: "y", status: "pending" });
    clock.advance(60_000);
    expect(world.pruneFinished(30_000)).toBe(1);
    expect(world.job(done.id)).toBeUndefined();
    expect(world.job(live.id)).toBeDefined();
  });
});

describe("CiFleetScenario", () => {
  function play(seed: number) {
    const clock = new ManualClock();
    const world = new GitLabWorld({ now: clock.now });
    const scenario = new CiFleetScenario({
      world,
      seed,
      projects: 20,
      activeProjects: 5,
      tagSets: [["docker"], ["kaniko"], []],
      runners: [{ id: 1, description: "r1" }],
      jobsPerMinute: 60,
      meanQueueSeconds: 5,
      meanRunSeconds: 30,
      scriptFailureRatio: 0.15,
      systemFailureRatio: 0.05,
      canceledRatio: 0.02,
    });
    for (let i = 0; i < 600; i++) {
      clock.advance(1000);
      scenario.step(1000);
    }
    return { world, scenario };
  }

  it("is deterministic for a seed", () => {
    const a = play(7).world.jobs().map((j) => `${j.id}:${j.status}:${j.failureReason}`);
    const b = play(7).world.jobs().map((j) => `${j.id}:${j.status}:${j.failureReason}`);
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(400);
  });

  it("produces roughly the configured failure mix", () => {
    const jobs = play(3).world.jobs().filter((j) => j.status === "failed" || j.status === "success");
    const script = jobs.filter((j) => j.failureReason === "script_failure").length / jobs.length;
    expect(script).toBeGreaterThan(0.08);
    expect(script).toBeLessThan(0.25);
  });

  it("keeps a stalled tag set pending until it is released", () => {
    const clock = new ManualClock();
    const world = new GitLabWorld({ now: clock.now });
    const scenario = new CiFleetScenario({
      world,
      seed: 1,
      projects: 3,
      activeProjects: 3,
      tagSets: [["spot"]],
      runners: [{ id: 1, description: "r1" }],
      jobsPerMinute: 60,
      meanQueueSeconds: 1,
      meanRunSeconds: 5,
      scriptFailureRatio: 0,
      systemFailureRatio: 0,
    });
    scenario.stall(["spot"]);
    for (let i = 0; i < 60; i++) {
      clock.advance(1000);
      scenario.step(1000);
    }
    expect(world.jobs().every((j) => j.status === "pending")).toBe(true);
    scenario.unstall();
    clock.advance(1000);
    scenario.step(1000);
    expect(world.jobs().some((j) => j.status === "running")).toBe(true);
  });
});
