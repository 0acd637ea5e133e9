import type { GitLabWorld, SimJob, SimProject, SimRunner } from "./world.js";

/** A clock tests move by hand; the world and the scenario share it. */
export class ManualClock {
  constructor(private current = Date.UTC(2026, 10, 24, 9, 0, 0)) {}
  now = (): number => this.current;
  advance(ms: number): void {
    this.current += ms;
  }
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_SYSTEM_FAILURE_REASONS = ["runner_system_failure", "stuck_or_timeout_failure", "runner_unsupported", "scheduler_failure", "api_failure"];

export interface CiFleetOptions {
  readonly world: GitLabWorld;
  readonly seed: number;
  /** Project paths to create, or how many to generate under a few groups and subgroups. */
  readonly projects: readonly string[] | number;
  /** How many of them run pipelines; the rest stay idle. */
  readonly activeProjects: number;
  readonly tagSets: ReadonlyArray<readonly string[]>;
  readonly runners: readonly SimRunner[];
  readonly jobsPerMinute: number;
  readonly meanQueueSeconds: number;
  readonly meanRunSeconds: number;
  readonly scriptFailureRatio: number;
  readonly systemFailureRatio: number;
  readonly canceledRatio?: number;
  readonly systemFailureReasons?: readonly string[];
  readonly retrySystemFailures?: boolean;
  readonly jobsPerPipeline?: number;
  readonly refs?: readonly string[];
}

export interface JobLifecycleHooks {
  /** A runner picked the job up; another world (Kubernetes) may start a pod for it. */
  onJobStarted?(job: SimJob, project: SimProject): void;
  /** The job reached a final status. */
  onJobFinished?(job: SimJob, project: SimProject): void;
}

interface Planned {
  readonly at: number;
  readonly jobId: number;
  readonly action: "start" | "finish";
}

const JOB_NAMES = ["build", "unit-test", "lint", "integration-test", "build-image", "deploy-review", "security-scan", "package"];
const STAGES = ["build", "test", "test", "test", "build", "deploy", "test", "build"];

/**
 * Plays a CI fleet on a GitLab world, deterministically from a seed: pipelines arrive at a steady
 * rate on the active projects, their jobs queue, run on runners and finish as success, script
 * failure, system failure or canceled. A stalled tag set keeps its jobs pending (a stuck queue).
 */
export class CiFleetScenario {
  readonly projects: SimProject[];
  readonly active: SimProject[];
  private readonly random: () => number;
  private readonly planned: Planned[] = [];
  private readonly stalled = new Set<string>();
  private readonly waitingOnStall: number[] = [];
  private arrivalDebt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private readonly hooks: JobLifecycleHooks[] = [];

  constructor(private readonly options: CiFleetOptions) {
    this.random = seededRandom(options.seed);
    const paths = typeof options.projects === "number" ? generatePaths(options.projects) : options.projects;
    this.projects = paths.map((path) => options.world.project(path) ?? options.world.addProject(path));
    this.active = shuffled(this.projects, this.random).slice(0, options.activeProjects);
  }

  attach(hooks: JobLifecycleHooks): void {
    this.hooks.push(hooks);
  }

  /** Keeps jobs of this tag set pending until `unstall`. */
  stall(tagSet: readonly string[]): void {
    this.stalled.add(key(tagSet));
  }

  unstall(tagSet?: readonly string[]): void {
    if (tagSet) this.stalled.delete(key(tagSet));
    else this.stalled.clear();
    const now = this.options.world.now();
    for (const jobId of this.waitingOnStall.splice(0)) this.plan({ at: now, jobId, action: "start" });
  }

  /** Advances the play by `dtMs` of simulated time and applies everything due by the world's now. */
  step(dtMs: number): void {
    const { world } = this.options;
    this.arrivalDebt += (this.options.jobsPerMinute * dtMs) / 60_000;
    const perPipeline = this.options.jobsPerPipeline ?? 3;
    while (this.arrivalDebt >= perPipeline) {
      this.arrivalDebt -= perPipeline;
      this.createPipeline(perPipeline);
    }
    const now = world.now();
    while (this.planned.length > 0 && this.planned[0]!.at <= now) {
      const next = this.planned.shift()!;
      const job = world.job(next.jobId);
      if (!job) continue;
      if (next.action === "start") this.startJob(job);
      else this.finishJob(job);
    }
  }

  /** Plays in real time, one step per tick. */
  start(tickMs: number): void {
    this.lastTick = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      this.step(now - this.lastTick);
      this.lastTick = now;
    }, tickMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private createPipeline(jobs: number): void {
    const { world } = this.options;
    const project = this.active[Math.floor(this.random() * this.active.length)]!;
    const refs = this.options.refs ?? ["main", "main", "feature/faster-builds", "fix/flaky-test", "renovate/node-22.x"];
    const pipeline = world.createPipeline(project.id, { ref: refs[Math.floor(this.random() * refs.length)]! });
    for (let i = 0; i < jobs; i++) {
      const index = Math.floor(this.random() * JOB_NAMES.length);
      const tags = this.options.tagSets[Math.floor(this.random() * this.options.tagSets.length)] ?? [];
      const job = world.createJob(project.id, { name: JOB_NAMES[index]!, stage: STAGES[index]!, tags, pipelineId: pipeline.id, status: "pending" });
      this.plan({ at: world.now() + this.exponential(this.options.meanQueueSeconds), jobId: job.id, action: "start" });
    }
  }

  private startJob(job: SimJob): void {
    if (job.status !== "pending") return;
    const { world } = this.options;
    if (this.stalled.has(key(job.tags))) {
      this.waitingOnStall.push(job.id);
      return;
    }
    const canceled = this.random() < (this.options.canceledRatio ?? 0) / 2;
    if (canceled) {
      world.finish(job.id, "canceled");
      this.notifyFinished(job);
      return;
    }
    const runner = this.options.runners[Math.floor(this.random() * this.options.runners.length)]!;
    world.start(job.id, { ...runner, tags: job.tags });
    for (const hook of this.hooks) hook.onJobStarted?.(job, world.project(job.projectId)!);
    this.plan({ at: world.now() + this.exponential(this.options.meanRunSeconds), jobId: job.id, action: "finish" });
  }

  private finishJob(job: SimJob): void {
    if (job.status !== "running") return;
    const { world } = this.options;
    const roll = this.random();
    const script = this.options.scriptFailureRatio;
    const system = this.options.systemFailureRatio;
    const canceled = (this.options.canceledRatio ?? 0) / 2;
    if (roll < system) {
      const reasons = this.options.systemFailureReasons ?? DEFAULT_SYSTEM_FAILURE_REASONS;
      this.failWithSystemReason(job, reasons[Math.floor(this.random() * reasons.length)]!);
      return;
    }
    if (roll < system + script) world.finish(job.id, "failed", "script_failure");
    else if (roll < system + script + canceled) world.finish(job.id, "canceled");
    else world.finish(job.id, "success");
    this.notifyFinished(job);
  }

  /** Also used by a Kubernetes world when it takes a job's pod down. */
  failWithSystemReason(job: SimJob, reason: string): void {
    const { world } = this.options;
    if (job.status !== "running" && job.status !== "pending") return;
    world.finish(job.id, "failed", reason);
    this.notifyFinished(job);
    if (this.options.retrySystemFailures) {
      const retry = world.retry(job.id);
      this.plan({ at: world.now() + this.exponential(this.options.meanQueueSeconds), jobId: retry.id, action: "start" });
    }
  }

  private notifyFinished(job: SimJob): void {
    const project = this.options.world.project(job.projectId)!;
    for (const hook of this.hooks) hook.onJobFinished?.(job, project);
  }

  private plan(entry: Planned): void {
    // Keep the plan sorted by time; insertion from the back is cheap because most entries are recent.
    let index = this.planned.length;
    while (index > 0 && this.planned[index - 1]!.at > entry.at) index--;
    this.planned.splice(index, 0, entry);
  }

  private exponential(meanSeconds: number): number {
    return Math.round(-Math.log(1 - this.random()) * meanSeconds * 1000);
  }
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function key(tags: readonly string[]): string {
  return [...tags].sort().join(",");
}

function generatePaths(count: number): string[] {
  const groups = ["acme/platform", "acme/web", "acme/data/pipelines", "tools", "infra/terraform"];
  const names = ["api", "worker", "frontend", "billing", "search", "auth", "gateway", "reports", "ingest", "scheduler"];
  return Array.from({ length: count }, (_, i) => `${groups[i % groups.length]}/${names[i % names.length]}-${Math.floor(i / names.length)}`);
}
