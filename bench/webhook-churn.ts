import type { GitLabWorld, SimJob, SimRunner, WebhookSender } from "../src/simulator/gitlab/index.js";

/** Jobs in their lifecycle at once; each lives about four times this many steps. */
const IN_FLIGHT = 10;
const TICK_MS = 20;

/**
 * Job lifecycles played at a steady rate of lifecycle steps (created, pending, running,
 * finished: 1 in 9 failed), each step one Job Hook delivery. The steps due are counted from the
 * start, so a late timer tick catches up instead of lowering the rate. The rate delivered is read
 * from the sender: deliveries answered with a 2xx status.
 */
export class WebhookChurn {
  private readonly inFlight: SimJob[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stepsTaken = 0;
  private created = 0;
  private creating = true;
  private drained: (() => void) | undefined;

  constructor(
    private readonly world: GitLabWorld,
    private readonly sender: WebhookSender,
    private readonly projectIds: readonly number[],
    private readonly runner: SimRunner,
    private readonly stepsPerSecond: number,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops starting jobs and resolves once every job started has finished and its deliveries were answered. */
  async drain(): Promise<void> {
    this.creating = false;
    if (this.inFlight.length > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.sender.flush();
  }

  /** Starts jobs again after `drain`. */
  resume(): void {
    this.creating = true;
  }

  /** Stops the steps, leaving the jobs in flight where they are; their deliveries still go out. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sender.flush();
  }

  /** Deliveries the sender had answered with a 2xx status, and when. */
  delivered(): { readonly count: number; readonly at: number } {
    let count = 0;
    for (const [status, n] of this.sender.stats.statuses) if (status >= 200 && status < 300) count += n;
    return { count, at: performance.now() };
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.stepsPerSecond);
    for (; this.stepsTaken < due; this.stepsTaken++) this.step();
    if (this.drained && this.inFlight.length === 0) {
      this.drained();
      this.drained = undefined;
    }
  }

  private step(): void {
    if (this.creating && this.inFlight.length < IN_FLIGHT) {
      const projectId = this.projectIds[this.created++ % this.projectIds.length]!;
      this.inFlight.push(this.world.createJob(projectId, { name: "churn", tags: ["docker"] }));
      return;
    }
    const job = this.inFlight.shift();
    if (!job) return;
    if (job.status === "created") this.world.enqueue(job.id);
    else if (job.status === "pending") this.world.start(job.id, this.runner);
    else {
      const failed = job.id % 9 === 0;
      this.world.finish(job.id, failed ? "failed" : "success", failed ? "script_failure" : undefined);
      return;
    }
    this.inFlight.push(job);
  }
}
