import { Dice, type GitLabWorld, type SimRunner } from "../../src/simulator/gitlab/index.js";

const RUNNER: SimRunner = { id: 11, description: "k8s-runner-a" };

/**
 * CI traffic on a simulated GitLab: a pipeline of two jobs every `everyMs`, each job queued,
 * started by one of `runners` and finished within about a second (85% success by default, a
 * `canceledShare` canceled, the rest script failures).
 */
export class CiTraffic {
  private readonly dice: Dice;
  private readonly due = new Map<number, { step: "start" | "finish"; atMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private holding = false;

  constructor(
    private readonly world: GitLabWorld,
    private readonly projectIds: readonly number[],
    private readonly options: { readonly everyMs?: number; readonly seed?: number; readonly runners?: readonly SimRunner[]; readonly successShare?: number; readonly canceledShare?: number } = {},
  ) {
    this.dice = Dice.seeded(options.seed ?? 20);
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.options.everyMs ?? 150);
  }

  /** No new pipeline, no step, until `start` again. */
  pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Jobs go on queueing and starting, but none finishes until `release`. */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    this.advance(Date.now());
  }

  /** No new pipelines; every live job finishes now. */
  finishAll(): void {
    this.pause();
    this.holding = false;
    while (this.due.size > 0) this.advance(Number.POSITIVE_INFINITY);
  }

  /** Jobs that finished within [fromMs, toMs). */
  finishedBetween(fromMs: number, toMs = Number.POSITIVE_INFINITY): number {
    return this.world.jobs().filter((job) => job.finishedAt !== null && job.finishedAt >= fromMs && job.finishedAt < toMs).length;
  }

  private tick(): void {
    const pipeline = this.world.createPipeline(this.dice.pick(this.projectIds));
    for (const name of ["build", "test"]) {
      const job = this.world.createJob(pipeline.projectId, { name, pipelineId: pipeline.id, tags: ["k8s"], status: "pending" });
      this.due.set(job.id, { step: "start", atMs: Date.now() + this.dice.int(300) });
    }
    this.advance(Date.now());
  }

  private advance(now: number): void {
    for (const [id, due] of this.due) {
      if (due.atMs > now) continue;
      if (due.step === "start") {
        this.world.start(id, this.dice.pick(this.options.runners ?? [RUNNER]));
        // `now` is +∞ in finishAll.
        this.due.set(id, { step: "finish", atMs: Math.min(now, Date.now()) + 100 + this.dice.int(500) });
        continue;
      }
      if (this.holding) continue;
      const roll = this.dice.uniform();
      if (roll < (this.options.successShare ?? 0.85)) this.world.finish(id, "success");
      else if (roll < 1 - (this.options.canceledShare ?? 0)) this.world.finish(id, "failed", "script_failure");
      else this.world.finish(id, "canceled");
      this.due.delete(id);
    }
  }
}
