import { describe, expect, it } from "vitest";
import {
  CiFleetScenario,
  DEFAULT_SYSTEM_FAILURE_REASONS,
  GitLabWorld,
  ManualClock,
  seededRandom,
  type CiFleetOptions,
  type SimJob,
} from "../../../../src/simulator/gitlab/index.js";

const RUNNERS = [
  { id: 1, description: "eks-spot-runner" },
  { id: 2, description: "eks-ondemand-runner" },
];

function fleet(overrides: Partial<CiFleetOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 8, 0, 0));
  const world = new GitLabWorld({ now: clock.now });
  const scenario = new CiFleetScenario({
    world,
    clock,
    seed: 42,
    projects: 30,
    activeProjects: 8,
    tagSets: [["docker", "linux"], ["kaniko"], []],
    runners: RUNNERS,
    jobsPerMinute: 120,
    meanQueueSeconds: 10,
    meanRunSeconds: 60,
    scriptFailureRatio: 0.15,
    systemFailureRatio: 0.05,
    canceledRatio: 0.04,
    ...overrides,
  });
  return { clock, world, scenario };
}

const snapshot = (jobs: readonly SimJob[]) =>
  jobs.map((j) => [j.id, j.projectId, j.pipelineId, j.name, j.stage, j.tags.join(","), j.status, j.failureReason, j.createdAt, j.queuedAt, j.startedAt, j.finishedAt, j.runner?.description, j.retriesCount].join("|"));

function playFor(options: Partial<CiFleetOptions>, minutes: number, sliceMs: number) {
  const f = fleet(options);
  for (let t = 0; t < minutes * 60_000; t += sliceMs) f.scenario.step(sliceMs);
  return f;
}

describe("seededRandom", () => {
  it("repeats its sequence for a seed and differs across seeds", () => {
    const a = seededRandom(9);
    const b = seededRandom(9);
    const c = seededRandom(10);
    const first = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe("CiFleetScenario", () => {
  it("replays exactly for a seed, and differently for another", () => {
    const a = snapshot(playFor({}, 20, 1000).world.jobs());
    const b = snapshot(playFor({}, 20, 1000).world.jobs());
    const c = snapshot(playFor({ seed: 43 }, 20, 1000).world.jobs());
    expect(a.length).toBeGreaterThan(1500);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("does not depend on how simulated time is sliced when it owns the clock", () => {
    const fine = snapshot(playFor({}, 10, 250).world.jobs());
    const coarse = snapshot(playFor({}, 10, 60_000).world.jobs());
    expect(coarse).toEqual(fine);
  });

  it("plays pipelines of a few jobs on the active projects only, with the configured tags and runners", () => {
    const { world, scenario } = playFor({}, 10, 5000);
    expect(scenario.projects).toHaveLength(30);
    expect(scenario.active).toHaveLength(8);
    const active = new Set(scenario.active.map((p) => p.id));
    const jobs = world.jobs();
    expect(jobs.every((j) => active.has(j.projectId))).toBe(true);
    // Shuffled: the active projects are not just the first group's.
    expect(new Set(scenario.active.map((p) => p.namespaceFullPath)).size).toBeGreaterThan(2);
    expect(new Set(jobs.map((j) => j.tags.join(",")))).toEqual(new Set(["docker,linux", "kaniko", ""]));
    expect(new Set(jobs.filter((j) => j.runner).map((j) => j.runner!.description))).toEqual(new Set(RUNNERS.map((r) => r.description)));
    const perPipeline = new Map<number, number>();
    for (const j of jobs) perPipeline.set(j.pipelineId, (perPipeline.get(j.pipelineId) ?? 0) + 1);
    const mean = jobs.length / perPipeline.size;
    expect(mean).toBeGreaterThan(2);
    expect(mean).toBeLessThan(4);
    // ~120 jobs a minute for 10 minutes.
    expect(jobs.length).toBeGreaterThan(1000);
    expect(jobs.length).toBeLessThan(1400);
    expect(scenario.stats.jobs).toBe(jobs.length);
  });

  it("queues and runs for about the configured means", () => {
    const { world } = playFor({ canceledRatio: 0 }, 30, 10_000);
    const started = world.jobs().filter((j) => j.startedAt !== null && j.queuedAt !== null);
    const queue = started.reduce((s, j) => s + (j.startedAt! - j.queuedAt!), 0) / started.length / 1000;
    const finished = started.filter((j) => j.finishedAt !== null);
    const run = finished.reduce((s, j) => s + (j.finishedAt! - j.startedAt!), 0) / finished.length / 1000;
    expect(queue).toBeGreaterThan(8);
    expect(queue).toBeLessThan(12);
    expect(run).toBeGreaterThan(50);
    expect(run).toBeLessThan(70);
  });

  it("finishes jobs with about the configured mix of outcomes", () => {
    const { world } = playFor({}, 60, 10_000);
    const ended = world.jobs().filter((j) => j.status === "success" || j.status === "failed" || j.status === "canceled");
    const share = (f: (j: SimJob) => boolean) => ended.filter(f).length / ended.length;
    expect(share((j) => j.failureReason === "script_failure")).toBeGreaterThan(0.11);
    expect(share((j) => j.failureReason === "script_failure")).toBeLessThan(0.19);
    const system = ended.filter((j) => j.status === "failed" && j.failureReason !== "script_failure");
    expect(system.length / ended.length).toBeGreaterThan(0.025);
    expect(system.length / ended.length).toBeLessThan(0.075);
    expect(system.every((j) => DEFAULT_SYSTEM_FAILURE_REASONS.includes(j.failureReason!))).toBe(true);
    expect(share((j) => j.status === "canceled")).toBeGreaterThan(0.02);
    expect(share((j) => j.status === "canceled")).toBeLessThan(0.06);
    // Some canceled while waiting, some while running.
    const canceled = ended.filter((j) => j.status === "canceled");
    expect(canceled.some((j) => j.startedAt === null)).toBe(true);
    expect(canceled.some((j) => j.startedAt !== null)).toBe(true);
    expect(ended.filter((j) => j.status !== "failed").every((j) => j.failureReason === null)).toBe(true);
  });

  it("uses the given system failure reasons and retries such failures at most twice", () => {
    const { world, scenario } = playFor({ systemFailureRatio: 0.3, scriptFailureRatio: 0, systemFailureReasons: ["runner_system_failure"], retrySystemFailures: true }, 20, 5000);
    const failed = world.jobs().filter((j) => j.status === "failed");
    expect(new Set(failed.map((j) => j.failureReason))).toEqual(new Set(["runner_system_failure"]));
    const retries = world.jobs().filter((j) => j.retriesCount > 0);
    expect(retries.length).toBe(scenario.stats.retried);
    expect(retries.length).toBeGreaterThan(50);
    expect(Math.max(...retries.map((j) => j.retriesCount))).toBe(2);
    for (const retry of retries) {
      const original = world.jobs().find((j) => j.pipelineId === retry.pipelineId && j.name === retry.name && j.retriesCount === retry.retriesCount - 1)!;
      expect(original.retried).toBe(true);
      expect(retry.id).toBeGreaterThan(original.id);
    }
  });

  it("runs stages one after the other and skips what follows a failure, when asked", () => {
    const { world } = playFor({ sequentialStages: true, scriptFailureRatio: 0.3 }, 30, 5000);
    const byPipeline = new Map<number, SimJob[]>();
    for (const j of world.jobs()) byPipeline.set(j.pipelineId, [...(byPipeline.get(j.pipelineId) ?? []), j]);
    let skipped = 0;
    for (const jobs of byPipeline.values()) {
      const build = jobs.filter((j) => j.stage === "build" && !j.retried);
      const later = jobs.filter((j) => j.stage !== "build");
      const buildEnd = Math.max(...build.map((j) => j.finishedAt ?? Infinity));
      for (const j of later) if (j.queuedAt !== null) expect(j.queuedAt).toBeGreaterThanOrEqual(buildEnd);
      if (build.some((j) => j.status === "failed" || j.status === "canceled")) {
        for (const j of later) expect(j.status).toBe("skipped");
        skipped += later.length;
      }
    }
    expect(skipped).toBeGreaterThan(0);
    expect(world.jobs().some((j) => j.status === "created")).toBe(true);
  });

  it("keeps a stalled tag set pending until released, and only that one", () => {
    const { world, scenario } = fleet({ canceledRatio: 0 });
    scenario.stall(["linux", "docker"]);
    for (let i = 0; i < 10; i++) scenario.step(60_000);
    const stalled = world.jobs().filter((j) => j.tags.join(",") === "docker,linux");
    expect(stalled.length).toBeGreaterThan(100);
    expect(stalled.every((j) => j.status === "pending" && j.startedAt === null)).toBe(true);
    expect(world.jobs().filter((j) => j.tags.length !== 2).some((j) => j.status === "success")).toBe(true);
    scenario.unstall(["docker", "linux"]);
    scenario.step(5 * 60_000);
    expect(stalled.every((j) => j.status !== "pending")).toBe(true);
  });

  it("calls lifecycle hooks another world can attach to, and lets it fail jobs later", () => {
    const { world, scenario } = fleet({ canceledRatio: 0, scriptFailureRatio: 0, systemFailureRatio: 0 });
    const seen = { created: 0, queued: 0, started: 0, finished: 0 };
    const interrupted: number[] = [];
    const detach = scenario.attach({
      onJobCreated: () => seen.created++,
      onJobQueued: () => seen.queued++,
      onJobStarted: (job, project) => {
        seen.started++;
        expect(project.id).toBe(job.projectId);
        // A spot interruption 5 s after every 10th pod starts.
        if (job.id % 10 === 0) scenario.schedule(5000, () => (interrupted.push(job.id), scenario.failWithSystemReason(job.id, "runner_system_failure")));
      },
      onJobFinished: () => seen.finished++,
    });
    scenario.step(10 * 60_000);
    detach();
    expect(seen.created).toBe(world.jobs().length);
    expect(seen.queued).toBe(seen.created);
    expect(seen.started).toBeGreaterThan(0);
    expect(seen.finished).toBe(world.jobs().filter((j) => j.finishedAt !== null).length);
    expect(interrupted.length).toBeGreaterThan(0);
    const failed = world.jobs().filter((j) => j.status === "failed");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((j) => interrupted.includes(j.id) && j.failureReason === "runner_system_failure")).toBe(true);
  });

  it("prunes finished jobs as it goes when given a horizon", () => {
    const { world } = playFor({ retainFinishedMs: 5 * 60_000 }, 60, 10_000);
    const oldest = Math.min(...world.jobs().filter((j) => j.finishedAt !== null).map((j) => j.finishedAt!));
    expect(world.now() - oldest).toBeLessThanOrEqual(5 * 60_000 + 75_000);
    expect(world.jobs().length).toBeLessThan(2500);
  });

  it("applies what is due by the world's clock when the caller moves it", () => {
    const clock = new ManualClock();
    const world = new GitLabWorld({ now: clock.now });
    const scenario = new CiFleetScenario({
      world,
      seed: 1,
      projects: ["acme/a", "acme/b"],
      activeProjects: 2,
      tagSets: [[]],
      runners: RUNNERS,
      jobsPerMinute: 60,
      meanQueueSeconds: 1,
      meanRunSeconds: 2,
      scriptFailureRatio: 0,
      systemFailureRatio: 0,
    });
    scenario.step(60_000);
    expect(world.jobs()).toHaveLength(0);
    for (let i = 0; i < 120; i++) {
      clock.advance(1000);
      scenario.step(1000);
    }
    expect(world.jobs().length).toBeGreaterThan(60);
    expect(world.jobs().filter((j) => j.status === "success").length).toBeGreaterThan(50);
  });

  it("plays in real time with start and stop", async () => {
    const world = new GitLabWorld();
    const scenario = new CiFleetScenario({
      world,
      seed: 5,
      projects: 3,
      activeProjects: 3,
      tagSets: [[]],
      runners: RUNNERS,
      jobsPerMinute: 60_000,
      meanQueueSeconds: 0.01,
      meanRunSeconds: 0.01,
      scriptFailureRatio: 0,
      systemFailureRatio: 0,
    });
    scenario.start(10);
    await new Promise((resolve) => setTimeout(resolve, 150));
    scenario.stop();
    const count = world.jobs().length;
    expect(count).toBeGreaterThan(10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(world.jobs().length).toBe(count);
    scenario.dispose();
  });

  it("changes its load and its share of system failures when adjusted", () => {
    const { world, scenario, clock } = fleet({ jobsPerMinute: 30, canceledRatio: 0, scriptFailureRatio: 0, systemFailureRatio: 0 });
    const createdBetween = (from: number, to: number) => world.jobs().filter((j) => j.createdAt >= from && j.createdAt < to).length;
    const start = clock.now();
    scenario.step(20 * 60_000);
    scenario.adjust({ jobsPerMinute: 90, systemFailureRatio: 0.5 });
    const adjustedAt = clock.now();
    scenario.step(20 * 60_000);
    expect(createdBetween(start, adjustedAt)).toBeGreaterThan(450);
    expect(createdBetween(start, adjustedAt)).toBeLessThan(750);
    expect(createdBetween(adjustedAt, clock.now())).toBeGreaterThan(3 * 450);
    expect(createdBetween(adjustedAt, clock.now())).toBeLessThan(3 * 750);
    const systemShare = (from: number, to: number) => {
      const ended = world.jobs().filter((j) => j.startedAt !== null && j.finishedAt !== null && j.finishedAt >= from && j.finishedAt < to);
      return ended.filter((j) => j.status === "failed").length / ended.length;
    };
    expect(systemShare(start, adjustedAt)).toBe(0);
    expect(systemShare(adjustedAt, clock.now())).toBeGreaterThan(0.4);
    expect(systemShare(adjustedAt, clock.now())).toBeLessThan(0.6);
  });

  it("starts arrivals again when a load of zero is raised", () => {
    const { world, scenario } = fleet({ jobsPerMinute: 0 });
    scenario.step(10 * 60_000);
    expect(world.jobs()).toHaveLength(0);
    scenario.adjust({ jobsPerMinute: 60 });
    scenario.adjust({ jobsPerMinute: 60 });
    scenario.step(10 * 60_000);
    // One arrival process, not two.
    expect(world.jobs().length).toBeGreaterThan(450);
    expect(world.jobs().length).toBeLessThan(750);
  });

  it("runs a held job only from beginRun on, as a pod that waits for a node holds its job", () => {
    const { world, scenario, clock } = fleet({ canceledRatio: 0 });
    scenario.attach({ onJobStarted: (job) => scenario.holdRun(job.id) });
    scenario.step(30 * 60_000);
    const held = world.jobs().filter((j) => j.status === "running");
    expect(held.length).toBeGreaterThan(100);
    expect(world.jobs().filter((j) => j.finishedAt !== null && j.startedAt !== null)).toEqual([]);
    const begunAt = clock.now();
    for (const job of held) scenario.beginRun(job.id);
    scenario.step(10 * 60_000);
    const ran = held.map((j) => world.job(j.id)!);
    expect(ran.every((j) => j.status !== "running")).toBe(true);
    const meanRun = ran.reduce((sum, j) => sum + (j.finishedAt! - begunAt), 0) / ran.length / 1000;
    expect(meanRun).toBeGreaterThan(45);
    expect(meanRun).toBeLessThan(75);
  });

  it("takes no more jobs than the runners' concurrency, the oldest pending first, and works the backlog off once the limit is lifted", () => {
    const { world, scenario, clock } = fleet({ canceledRatio: 0 });
    scenario.limitRunning(20);
    const running = () => world.jobs().filter((j) => j.status === "running").length;
    const detach = scenario.attach({
      onJobStarted: (job) => {
        const olderPending = world.jobs().filter((j) => j.status === "pending" && j.id < job.id && j.queuedAt! < clock.now() - 120_000);
        expect(olderPending.map((j) => j.id), `job ${job.id} started before older ones`).toEqual([]);
      },
    });
    for (let i = 0; i < 60; i++) {
      scenario.step(10_000);
      expect(running()).toBeLessThanOrEqual(20);
    }
    const backlog = world.jobs().filter((j) => j.status === "pending");
    expect(backlog.length).toBeGreaterThan(300);
    detach();
    scenario.limitRunning(undefined, { overMs: 60_000 });
    scenario.step(30_000);
    const startedEarly = backlog.filter((j) => world.job(j.id)!.startedAt !== null).length;
    expect(startedEarly).toBeGreaterThan(backlog.length * 0.3);
    expect(startedEarly).toBeLessThan(backlog.length * 0.7);
    // The last ones a minute later, and their queue time.
    scenario.step(3 * 60_000);
    expect(backlog.filter((j) => world.job(j.id)!.startedAt === null)).toEqual([]);
  });

  it("spreads a released stall over the given time", () => {
    const { world, scenario, clock } = fleet({ canceledRatio: 0 });
    scenario.stall(["linux", "docker"]);
    scenario.step(10 * 60_000);
    const stalled = world.jobs().filter((j) => j.status === "pending" && j.tags.includes("linux"));
    const releasedAt = clock.now();
    scenario.unstall(["docker", "linux"], { overMs: 5 * 60_000 });
    scenario.step(6 * 60_000);
    const starts = stalled.map((j) => world.job(j.id)!.startedAt! - releasedAt).sort((a, b) => a - b);
    expect(starts.every((ms) => ms >= 0)).toBe(true);
    expect(starts[Math.floor(starts.length / 2)]).toBeGreaterThan(2 * 60_000);
    expect(starts[Math.floor(starts.length / 2)]).toBeLessThan(3 * 60_000);
  });

  it("keeps its arrival rate when stepped late, from the time it started playing on", () => {
    const clock = new ManualClock();
    const world = new GitLabWorld({ now: clock.now });
    const options = { seed: 3, projects: ["acme/a"], activeProjects: 1, tagSets: [[]], runners: RUNNERS, jobsPerMinute: 60, meanQueueSeconds: 1, meanRunSeconds: 1, scriptFailureRatio: 0, systemFailureRatio: 0 };
    const scenario = new CiFleetScenario({ world, ...options });
    // Built ten minutes before it plays: those minutes bring no jobs.
    clock.advance(10 * 60_000);
    scenario.start(3_600_000);
    scenario.stop();
    const startedAt = clock.now();
    // A play that falls a minute behind still creates a minute of jobs.
    clock.advance(60_000);
    scenario.step(0);
    const created = world.jobs().filter((j) => j.createdAt >= startedAt).length;
    expect(world.jobs().length - created).toBeLessThanOrEqual(3);
    expect(created).toBeGreaterThan(40);
    expect(created).toBeLessThan(80);
    scenario.dispose();
  });

  it("rejects a fleet without runners or tag sets", () => {
    expect(() => fleet({ runners: [] })).toThrow(/runner/);
    expect(() => fleet({ tagSets: [] })).toThrow(/tag set/);
  });
});
