import type { ManualClock } from "./clock.js";
import { EventQueue } from "./event-queue.js";
import { generateProjectPaths, planPipeline, shuffle } from "./fleet-shapes.js";
import { isFinished, type SimJob, type SimProject, type SimRunner } from "./model.js";
import { Dice } from "./random.js";
import type { GitLabWorld } from "./world.js";

export { ManualClock } from "./clock.js";
export { seededRandom } from "./random.js";

/** Failure reasons of the runner and infrastructure, not of the job's own script. */
export const DEFAULT_SYSTEM_FAILURE_REASONS: readonly string[] = [
  "runner_system_failure",
  "stuck_or_timeout_failure",
  "scheduler_failure",
  "api_failure",
  "runner_unsupported",
];

export interface CiFleetOptions {
  readonly world: GitLabWorld;
  readonly seed: number;
  /** Project paths to create (existing ones are reused), or how many to generate under a few groups and subgroups. */
  readonly projects: readonly string[] | number;
  /** How many of them run pipelines; the rest stay idle. */
  readonly activeProjects: number;
  /** Each job gets one of these tag lists. */
  readonly tagSets: ReadonlyArray<readonly string[]>;
  readonly runners: readonly SimRunner[];
  readonly jobsPerMinute: number;
  readonly meanQueueSeconds: number;
  readonly meanRunSeconds: number;
  /** Share of started jobs that fail with script_failure (~0.15 in a typical fleet). */
  readonly scriptFailureRatio: number;
  /** Share of started jobs that fail with a system reason. */
  readonly systemFailureRatio: number;
  readonly systemFailureReasons?: readonly string[];
  /** Share of jobs canceled, half while waiting and half while running. */
  readonly canceledRatio?: number;
  /** Retry jobs that failed for a system reason, at most twice, as `retry: 2` does. */
  readonly retrySystemFailures?: boolean;
  /** Mean jobs per pipeline (default 3). */
  readonly jobsPerPipeline?: number;
  /**
   * Run stages one after the other, as GitLab does: later jobs wait as "created" and are skipped
   * when a stage fails. Off by default: every job is queued when its pipeline is created.
   */
  readonly sequentialStages?: boolean;
  readonly refs?: readonly string[];
  /**
   * A clock `step` moves itself, event by event, so every timestamp is exact and the outcome does
   * not depend on how time is sliced. Without it, `step` applies what is due by the world's clock,
   * which the caller (or real time) moves.
   */
  readonly clock?: ManualClock;
  /** Forget finished jobs older than this as the play goes on (benchmarks); keep all when absent. */
  readonly retainFinishedMs?: number;
}

/**
 * Callbacks another world (a Kubernetes one: pods on spot nodes) attaches to, for every job of
 * the GitLab world. They run inside the job's transition: read, record, and schedule follow-ups
 * with `scenario.schedule(...)` or `failWithSystemReason` later, rather than changing the world
 * from within.
 */
export interface JobLifecycleHooks {
  onJobCreated?(job: SimJob, project: SimProject): void;
  /** The job entered the queue (pending). */
  onJobQueued?(job: SimJob, project: SimProject): void;
  /** A runner picked the job up; a Kubernetes executor would create its pod now. */
  onJobStarted?(job: SimJob, project: SimProject): void;
  /** The job reached a final status. */
  onJobFinished?(job: SimJob, project: SimProject): void;
}

export interface FleetStats {
  pipelines: number;
  jobs: number;
  started: number;
  finished: number;
  retried: number;
}

type FleetEvent =
  | { readonly kind: "arrival" }
  | { readonly kind: "start"; readonly jobId: number }
  | { readonly kind: "finish"; readonly jobId: number }
  | { readonly kind: "settled"; readonly jobId: number }
  | { readonly kind: "call"; readonly action: () => void };

interface PlayedPipeline {
  readonly stages: readonly string[];
  /** Index of the stage whose jobs are queued. */
  current: number;
}

const MAX_RETRIES = 2;

/**
 * Plays a CI fleet on a GitLab world, deterministically from a seed: pipelines arrive as a
 * Poisson process on the active projects, their jobs queue, run on runners and end as success,
 * script failure, system failure or canceled. A stalled tag set keeps its jobs pending (a stuck
 * queue: the autoscaler cannot get nodes).
 */
export class CiFleetScenario {
  readonly projects: readonly SimProject[];
  readonly active: readonly SimProject[];
  readonly stats: FleetStats = { pipelines: 0, jobs: 0, started: 0, finished: 0, retried: 0 };
  private readonly world: GitLabWorld;
  private readonly dice: Dice;
  private readonly events = new EventQueue<FleetEvent>();
  private readonly pipelines = new Map<number, PlayedPipeline>();
  private readonly stalled = new Set<string>();
  private readonly parked: number[] = [];
  private readonly hooks = new Set<JobLifecycleHooks>();
  private readonly systemReasons: readonly string[];
  private readonly offWorld: () => void;
  private timer: NodeJS.Timeout | undefined;
  private lastPrune: number;
  /** The options' load and system failure share, until `adjust` changes them. */
  private jobsPerMinute: number;
  private systemFailureRatio: number;
  private arrivalDue = false;
  /** When the real-time play started: arrivals catch up from here, not from before it. */
  private playingFrom = -Infinity;
  /** Running jobs whose run has not begun: their pod has not started. */
  private readonly held = new Set<number>();
  /** How many jobs the runners take at once (their `concurrent`), when limited; and how many run. */
  private maxRunning: number | undefined;
  private running = 0;

  constructor(private readonly options: CiFleetOptions) {
    this.world = options.world;
    this.dice = Dice.seeded(options.seed);
    this.systemReasons = options.systemFailureReasons ?? DEFAULT_SYSTEM_FAILURE_REASONS;
    this.jobsPerMinute = options.jobsPerMinute;
    this.systemFailureRatio = options.systemFailureRatio;
    if (options.runners.length === 0) throw new Error("a fleet needs at least one runner");
    if (options.tagSets.length === 0) throw new Error("a fleet needs at least one tag set (use [[]] for untagged jobs)");
    const paths = typeof options.projects === "number" ? generateProjectPaths(options.projects) : options.projects;
    this.projects = paths.map((path) => this.world.project(path) ?? this.world.addProject(path));
    // Shuffled, so the active projects spread over groups instead of filling the first one.
    this.active = shuffle(this.dice, this.projects).slice(0, Math.max(0, options.activeProjects));
    this.lastPrune = this.world.now();
    this.offWorld = this.world.onJobChange((job, previous) => this.observe(job, previous));
    this.scheduleArrival();
  }

  /** Attaches lifecycle callbacks; returns a function that detaches them. */
  attach(hooks: JobLifecycleHooks): () => void {
    this.hooks.add(hooks);
    return () => this.hooks.delete(hooks);
  }

  /** Runs `action` on the scenario's timeline, `delayMs` from now. */
  schedule(delayMs: number, action: () => void): void {
    this.events.push(this.world.now() + Math.max(0, delayMs), { kind: "call", action });
  }

  /**
   * Changes the load or the share of started jobs failing for a system reason from now on: a
   * peak hour, a broken runner release. The next arrival already drawn keeps its time.
   */
  adjust(changes: { jobsPerMinute?: number; systemFailureRatio?: number }): void {
    if (changes.jobsPerMinute !== undefined) this.jobsPerMinute = changes.jobsPerMinute;
    if (changes.systemFailureRatio !== undefined) this.systemFailureRatio = changes.systemFailureRatio;
    if (!this.arrivalDue) this.scheduleArrival();
  }

  /**
   * From `onJobStarted`: the job's run (its script, and so its end) waits for `beginRun`, as a
   * Kubernetes executor's job waits for its pod to start. GitLab counts it running meanwhile.
   */
  holdRun(jobId: number): void {
    this.held.add(jobId);
  }

  /** The held job's pod started: its run begins now. */
  beginRun(jobId: number): void {
    if (!this.held.delete(jobId)) return;
    this.events.push(this.world.now() + this.dice.exponentialMs(this.options.meanRunSeconds), { kind: "finish", jobId });
  }

  /**
   * The runners take at most `max` jobs at once (their `concurrent` setting): beyond, jobs stay
   * pending, and each job that stops running lets the oldest of them start. `undefined` lifts the
   * limit; the jobs it kept then start spread over `overMs`, as `unstall` does.
   */
  limitRunning(max: number | undefined, options: { overMs?: number } = {}): void {
    this.maxRunning = max;
    this.release(options.overMs ?? 0);
  }

  /** Keeps jobs with exactly this tag set (in any order) pending until `unstall`. */
  stall(tagSet: readonly string[]): void {
    this.stalled.add(tagKey(tagSet));
  }

  /**
   * Releases one tag set, or all; the waiting jobs then start after a fresh queue time, oldest
   * first and spread evenly over `overMs` when given (runners working a backlog off as their
   * concurrency allows).
   */
  unstall(tagSet?: readonly string[], options: { overMs?: number } = {}): void {
    if (tagSet) this.stalled.delete(tagKey(tagSet));
    else this.stalled.clear();
    this.release(options.overMs ?? 0);
  }

  /**
   * Parked jobs no stall holds get a start, oldest first, as many as the runners have room for:
   * spread over `overMs`, or at once when a runner's slot just freed (`room`).
   */
  private release(overMs: number, room?: number): void {
    const still: number[] = [];
    const released: number[] = [];
    const free = Math.min(room ?? Infinity, this.maxRunning === undefined ? Infinity : this.maxRunning - this.running);
    for (const jobId of this.parked.splice(0).sort((a, b) => a - b)) {
      const job = this.world.job(jobId);
      if (!job || job.status !== "pending") continue;
      if (this.stalled.has(tagKey(job.tags)) || released.length >= free) still.push(jobId);
      else released.push(jobId);
    }
    this.parked.push(...still);
    if (room !== undefined) {
      for (const jobId of released) this.events.push(this.world.now(), { kind: "start", jobId });
      return;
    }
    const step = overMs / Math.max(1, released.length);
    released.forEach((jobId, i) => this.scheduleStart(jobId, i * step));
  }

  /** Fails a waiting or running job for a system reason (e.g. its spot node went away). */
  failWithSystemReason(jobOrId: SimJob | number, reason: string): void {
    const job = this.world.job(typeof jobOrId === "number" ? jobOrId : jobOrId.id);
    if (!job || (job.status !== "running" && job.status !== "pending")) return;
    this.world.finish(job.id, "failed", reason);
  }

  /**
   * Advances the play by `dtMs` of simulated time with a scenario clock; without one, applies
   * everything due by the world's clock (and `dtMs` only matters to the clock's owner).
   */
  step(dtMs: number): void {
    const clock = this.options.clock;
    if (clock) {
      const target = clock.now() + Math.max(0, dtMs);
      this.runUntil(target, (at) => clock.advanceTo(at));
      clock.advanceTo(target);
    } else {
      this.runUntil(this.world.now());
    }
    this.pruneIfDue();
  }

  /** Plays in real time (or moves the scenario clock at real-time pace), one step per tick. */
  start(tickMs: number): void {
    this.stop();
    this.playingFrom = this.world.now();
    this.timer = setInterval(() => this.step(tickMs), tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops playing and stops listening to the world. */
  dispose(): void {
    this.stop();
    this.offWorld();
  }

  // ---- the play -----------------------------------------------------------------------------

  private runUntil(target: number, moveClock?: (at: number) => void): void {
    for (let at = this.events.peekTime(); at !== undefined && at <= target; at = this.events.peekTime()) {
      const event = this.events.pop()!;
      moveClock?.(event.at);
      this.apply(event.value, event.at);
    }
  }

  private apply(event: FleetEvent, at: number): void {
    switch (event.kind) {
      case "arrival":
        this.arrivalDue = false;
        this.createPipeline();
        // From this arrival's own time, not the clock's: a real-time play that falls behind
        // catches up instead of losing arrivals.
        this.scheduleArrival(Math.max(at, this.playingFrom));
        return;
      case "start":
        return this.startJob(event.jobId);
      case "finish":
        return this.finishJob(event.jobId);
      case "settled":
        return this.settle(event.jobId);
      case "call":
        return event.action();
    }
  }

  private scheduleArrival(from = this.world.now()): void {
    const perPipeline = this.options.jobsPerPipeline ?? 3;
    if (this.jobsPerMinute <= 0 || this.active.length === 0) return;
    const meanGapSeconds = (60 * perPipeline) / this.jobsPerMinute;
    this.arrivalDue = true;
    this.events.push(from + this.dice.exponentialMs(meanGapSeconds), { kind: "arrival" });
  }

  private scheduleStart(jobId: number, afterMs = 0): void {
    this.events.push(this.world.now() + afterMs + this.dice.exponentialMs(this.options.meanQueueSeconds), { kind: "start", jobId });
  }

  private createPipeline(): void {
    const project = this.dice.pick(this.active);
    const refs = this.options.refs ?? ["main", "main", "feature/faster-builds", "fix/flaky-test", "renovate/node-22.x"];
    const pipeline = this.world.createPipeline(project.id, { ref: this.dice.pick(refs) });
    const planned = planPipeline(this.dice, this.options.jobsPerPipeline ?? 3);
    const sequential = this.options.sequentialStages ?? false;
    const stages = [...new Set(planned.map((j) => j.stage))];
    this.pipelines.set(pipeline.id, { stages, current: 0 });
    this.stats.pipelines++;
    const jobs = planned.map((p) => {
      const queued = !sequential || p.stage === stages[0];
      this.stats.jobs++;
      return this.world.createJob(project.id, {
        name: p.name,
        stage: p.stage,
        tags: this.dice.pick(this.options.tagSets),
        pipelineId: pipeline.id,
        status: queued ? "pending" : "created",
      });
    });
    for (const job of jobs) if (job.status === "pending") this.scheduleStart(job.id);
  }

  /** At the concurrency limit, or older jobs wait for a runner first. */
  private runnersFull(jobId: number): boolean {
    if (this.maxRunning === undefined) return false;
    return this.running >= this.maxRunning || this.parked.some((id) => id < jobId && !this.stalled.has(tagKey(this.world.job(id)?.tags ?? [])));
  }

  private startJob(jobId: number): void {
    const job = this.world.job(jobId);
    if (!job || job.status !== "pending") return;
    if (this.stalled.has(tagKey(job.tags)) || this.runnersFull(jobId)) {
      this.parked.push(jobId);
      return;
    }
    if (this.dice.chance((this.options.canceledRatio ?? 0) / 2)) {
      this.world.finish(jobId, "canceled");
      return;
    }
    this.world.start(jobId, this.dice.pick(this.options.runners));
    this.stats.started++;
    if (this.held.has(jobId)) return;
    this.events.push(this.world.now() + this.dice.exponentialMs(this.options.meanRunSeconds), { kind: "finish", jobId });
  }

  private finishJob(jobId: number): void {
    const job = this.world.job(jobId);
    if (!job || job.status !== "running") return;
    const roll = this.dice.uniform();
    const system = this.systemFailureRatio;
    const script = system + this.options.scriptFailureRatio;
    const canceled = script + (this.options.canceledRatio ?? 0) / 2;
    if (roll < system) this.world.finish(jobId, "failed", this.dice.pick(this.systemReasons));
    else if (roll < script) this.world.finish(jobId, "failed", "script_failure");
    else if (roll < canceled) this.world.finish(jobId, "canceled");
    else this.world.finish(jobId, "success");
  }

  /** After any job of a played pipeline ends, however it ended: retries, then the next stage. */
  private settle(jobId: number): void {
    const job = this.world.job(jobId);
    if (!job) return;
    if (
      job.status === "failed" &&
      this.options.retrySystemFailures &&
      !job.retried &&
      job.retriesCount < MAX_RETRIES &&
      job.failureReason !== "script_failure"
    ) {
      const retry = this.world.retry(jobId);
      this.stats.retried++;
      this.scheduleStart(retry.id);
      return;
    }
    this.advance(job.pipelineId);
  }

  /** Moves a played pipeline past every stage that is done; with parallel stages, several may be. */
  private advance(pipelineId: number): void {
    const played = this.pipelines.get(pipelineId);
    if (!played) return;
    const latest = this.world.pipelineJobs(pipelineId).filter((j) => !j.retried);
    for (;;) {
      const stage = played.stages[played.current];
      const inStage = latest.filter((j) => j.stage === stage);
      if (inStage.some((j) => !isFinished(j.status))) return;
      const passed = inStage.every((j) => j.status === "success" || j.allowFailure);
      if (!passed || played.current + 1 >= played.stages.length) {
        // GitLab skips `when: on_success` jobs after a failed or canceled stage.
        for (const j of latest) if (j.status === "created") this.world.setStatus(j.id, "skipped");
        if (latest.every((j) => isFinished(j.status))) this.pipelines.delete(pipelineId);
        return;
      }
      played.current++;
      const next = latest.filter((j) => j.stage === played.stages[played.current] && j.status === "created");
      for (const j of next) {
        this.world.enqueue(j.id);
        this.scheduleStart(j.id);
      }
      if (next.length > 0) return;
    }
  }

  /** Dispatches hooks, and notes jobs of played pipelines that ended (acted upon outside the transition). */
  private observe(job: SimJob, previous: SimJob["status"] | null): void {
    const project = this.world.project(job.projectId);
    if (project && this.hooks.size > 0) {
      for (const hooks of this.hooks) {
        if (previous === null) hooks.onJobCreated?.(job, project);
        else if (job.status === "pending") hooks.onJobQueued?.(job, project);
        else if (job.status === "running") hooks.onJobStarted?.(job, project);
        else if (isFinished(job.status)) hooks.onJobFinished?.(job, project);
      }
    }
    if (isFinished(job.status)) this.held.delete(job.id);
    if (job.status === "running" && previous !== "running") this.running++;
    if (previous === "running" && job.status !== "running") {
      this.running--;
      if (this.maxRunning !== undefined) this.release(0, 1);
    }
    if (previous !== null && isFinished(job.status) && this.pipelines.has(job.pipelineId)) {
      this.stats.finished++;
      this.events.push(this.world.now(), { kind: "settled", jobId: job.id });
    }
  }

  private pruneIfDue(): void {
    const retain = this.options.retainFinishedMs;
    if (retain === undefined) return;
    const now = this.world.now();
    if (now - this.lastPrune < Math.max(1000, retain / 4)) return;
    this.lastPrune = now;
    this.world.pruneFinished(retain);
  }
}

function tagKey(tags: readonly string[]): string {
  return [...tags].sort().join(",");
}
