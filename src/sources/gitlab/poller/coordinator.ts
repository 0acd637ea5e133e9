import type { GitLabConfig } from "../../../config/load.js";
import { ignoreRejections, type Rejections } from "../../../lib/rejections.js";
import type { Logger } from "pino";
import type { WatchedProject } from "../../../domain/events.js";
import { GitLabClock } from "../clock.js";
import { ProjectDirectory, type DirectoryApi } from "../discovery.js";
import type { ActivitySink, PipelineObservationSink, UnplacedJob } from "../webhook-source.js";
import type { GitLabGraphql } from "../graphql/client.js";
import { InstanceSweep } from "../graphql/instance.js";
import { GroupSweep } from "../graphql/sweep.js";
import { FailurePolicy } from "./failure-policy.js";
import { JobScan } from "./job-scan.js";
import { repeat, startPaced } from "./loops.js";
import { PipelineCheck } from "./pipeline-check.js";
import { ProjectWatches, type ProjectWatch, type VisitKind } from "./project-watch.js";
import { ExpeditedVisits, Schedule } from "./schedule.js";
import type { JobSink, PollerApi, ProjectSink } from "./sinks.js";
import { SweepLoop, type ReadPath } from "./sweep-loop.js";
import { SyncAccounting } from "./sync.js";

/** The settings the poller reads, as the configuration holds them. */
export type PollerOptions = Pick<
  GitLabConfig,
  "projects" | "groups" | "pollIntervalMs" | "discoveryIntervalMs" | "idleRequestsPerSecond" | "hotProjectTtlMs" | "maxConcurrentRequests"
> &
  Partial<Pick<GitLabConfig, "readPath" | "sweepIntervalMs">> & {
    /**
     * The projects of this shard; every project when absent. A shard discovers every project
     * (to know each path's id) but watches, polls and sweeps its own alone, by id.
     */
    readonly owns?: (projectId: number) => boolean;
  };

export interface PollerDeps {
  /** Discovery's endpoints and the poller's. */
  readonly api: DirectoryApi & PollerApi;
  readonly jobs: JobSink;
  /** Where the pipelines the pipelines check lists go, with their statuses; ignored when absent. */
  readonly pipelines?: PipelineObservationSink;
  readonly projects: ProjectSink;
  readonly log: Logger;
  readonly onSynced: (atMs: number) => void;
  /** Watched projects hot and idle, and those whose live jobs were not read yet (no sweep, no first visit). */
  readonly onProjectStates: (hot: number, idle: number, unread: number) => void;
  /** GitLab's time, learned from its answers; the local clock less a margin without one. */
  readonly clock?: GitLabClock;
  readonly now?: () => number;
  /** Where implausible job fields and pipeline times are counted; ignored when absent. */
  readonly rejections?: Rejections;
  /** GitLab's GraphQL API, for the sweep; without it the poller reads by REST alone. */
  readonly graphql?: Pick<GitLabGraphql, "query">;
  readonly onReadPath?: (path: ReadPath) => void;
  readonly onSweep?: (path: ReadPath, outcome: "ok" | "failed", requests: number) => void;
}

/**
 * Polls GitLab so that the request rate follows CI activity rather than the number of
 * configured projects. Three loops: discovery (which projects), hot polls and the round.
 *
 * - Hot projects (a live job that can move on its own, or activity within the hot TTL) are
 *   polled every interval: a scan of the newest jobs down to the watermark (`JobScan`).
 * - Every project, hot or idle, is visited round-robin at `idleRequestsPerSecond` visits a
 *   second: a pipelines check (`PipelineCheck`), one small request when nothing changed. So a
 *   job that turns pending anywhere shows up within `watched projects / idleRequestsPerSecond`
 *   seconds, even without webhooks.
 * - Projects never visited yet are visited first, at the full budget, to set their baseline.
 * - A webhook about a job we cannot place makes its project hot and polls it soon, reading the
 *   job's pipeline when the newest jobs do not include it.
 * - A project that answers 403 or 404 loses its series but keeps its markers, and is retried
 *   with backoff while discovery lists it (`FailurePolicy`); one discovery no longer lists is
 *   remembered for a day (`ProjectWatches`).
 *
 * `Schedule` decides what is visited when; `SyncAccounting` says whether the picture is fresh.
 */
export class GitLabPoller implements ActivitySink {
  private readonly watches: ProjectWatches;
  private readonly directory: ProjectDirectory;
  private readonly schedule: Schedule;
  private readonly policy: FailurePolicy;
  private readonly scan: JobScan;
  private readonly check: PipelineCheck;
  private readonly sync: SyncAccounting;
  private readonly expedited: ExpeditedVisits;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>[] = [];
  private readonly roundVisits = new Set<Promise<void>>();
  private discoveryFailures = 0;
  private readonly now: () => number;
  private readonly sweeper: SweepLoop | null;
  private discovered!: () => void;
  /** Resolves once discovery first answered: every project's id by path is known from then on. */
  readonly firstDiscovery = new Promise<void>((resolve) => (this.discovered = resolve));
  /** Every discovered project's id by path, every shard's: pods that tell their project by path are placed by it. */
  private fleet = new Map<string, number>();
  private polling = false;

  constructor(
    private readonly options: PollerOptions,
    private readonly deps: PollerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    const now = this.now;
    const { api, jobs, projects, log } = deps;
    const clock = deps.clock ?? new GitLabClock(now);
    this.directory = new ProjectDirectory(api, { projects: options.projects, groups: options.groups, discoveryIntervalMs: options.discoveryIntervalMs, now, ...(options.owns ? { owns: options.owns } : {}) }, log);
    this.watches = new ProjectWatches({ jobs, projects, now });
    this.schedule = new Schedule(options, jobs);
    this.sync = new SyncAccounting(deps.onSynced, now);
    this.policy = new FailurePolicy({
      watches: this.watches,
      jobs,
      projects,
      log,
      now,
      backoffMs: (failures) => this.schedule.failureBackoffMs(failures),
      recheck: (projectId) => this.directory.recheckSoon(projectId),
      readabilityChanged: () => this.publishProjectStates(),
    });
    const rejections = deps.rejections ?? ignoreRejections;
    this.check = new PipelineCheck({ api, jobs, ...(deps.pipelines ? { pipelines: deps.pipelines } : {}), clock, tally: this.sync, now, rejections });
    const answered = (watch: ProjectWatch) => this.policy.answered(watch);
    this.scan = new JobScan({ api, jobs, pipelines: this.check, tally: this.sync, answered, log, now, rejections });
    this.expedited = new ExpeditedVisits((projectId) => void this.visit(projectId, "expedited"));
    this.sweeper = deps.graphql ? this.sweepLoop(deps.graphql, clock, rejections) : null;
  }

  /** How live jobs are read now; null until the first sweep chose (and always REST without GraphQL). */
  get readPath(): ReadPath | null {
    return this.sweeper ? this.sweeper.readPath : "rest";
  }

  /**
   * See `SyncAccounting.initialSyncDone`: once true, it stays true. A poller that does not poll
   * (a standby's) is synced once discovery answered.
   */
  get initialSyncDone(): boolean {
    return this.polling ? this.sync.initialSyncDone(this.sweeper?.settling ?? false) : this.sync.hasDiscovered;
  }

  /** The id of a discovered project, any shard's, by its path. */
  projectIdOf(path: string): number | undefined {
    return this.fleet.get(path);
  }

  /** Discovery, and with `polling` (else at `startPolling`) the hot polls, the round and the sweep. */
  start(options: { readonly polling: boolean } = { polling: true }): void {
    const { signal } = this.abort;
    const { now } = this;
    const { log } = this.deps;
    this.running.push(repeat("discovery", () => this.discover(), () => this.schedule.discoveryDelayMs(this.discoveryFailures), { signal, now, log, immediate: true }));
    if (options.polling) this.startPolling();
  }

  /** Starts reading the watched projects' jobs: a standby that took over calls it. */
  startPolling(): void {
    if (this.polling || this.abort.signal.aborted) return;
    this.polling = true;
    const { signal } = this.abort;
    this.running.push(repeat("hot poll", () => this.pollHotProjects(), () => this.options.pollIntervalMs, { signal, now: this.now, log: this.deps.log, immediate: false }));
    this.running.push(this.roundLoop());
    if (this.sweeper) this.running.push(this.sweepRepeatedly(this.sweeper));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.expedited.cancel();
    await Promise.allSettled([...this.running, ...this.roundVisits]);
  }

  keepHot(projectId: number): void {
    this.watches.touched(projectId, []);
  }

  placeJobsSoon(projectId: number, jobs: readonly UnplacedJob[]): void {
    this.readByRest(projectId, jobs);
  }

  private async discover(): Promise<void> {
    let found: WatchedProject[];
    try {
      found = await this.directory.discover();
      this.sync.answered();
      this.discoveryFailures = 0;
    } catch (error) {
      this.sync.failed();
      this.discoveryFailures++;
      throw error;
    }
    this.fleet = new Map(found.map((p) => [p.path, p.id]));
    const owns = this.options.owns;
    const owned = owns ? found.filter((p) => owns(p.id)) : found;
    const added = this.watches.reconcile(owned);
    if (added > 0 || !this.sync.hasDiscovered) this.deps.log.info({ projects: owned.length, ...(owns ? { fleet: found.length } : {}), added }, "GitLab projects discovered");
    this.sync.discoveryDone();
    this.discovered();
    this.publishProjectStates();
  }

  private async pollHotProjects(): Promise<void> {
    const hot = this.schedule.hotVisits(this.watches.all(), this.now());
    await Promise.all(hot.map((w) => this.visit(w.project.id, "hot")));
    // With no project to watch, the last discovery that answered is the whole truth: nothing is stale.
    this.sync.closeWindow(this.watches.size === 0 && this.discoveryFailures === 0);
    this.publishProjectStates();
  }

  /** First visits as fast as the budget allows, then every project in turn at the idle rate. */
  private roundLoop(): Promise<void> {
    return startPaced({
      signal: this.abort.signal,
      now: this.now,
      inFlight: this.roundVisits,
      maxConcurrent: this.options.maxConcurrentRequests,
      startNext: () => {
        // The first sweep goes first: it shows every live job in a few requests; first visits follow.
        if (this.sweeper?.settling) return undefined;
        const next = this.schedule.nextRoundVisit(this.watches.all(), this.now());
        return next && this.visit(next.watch.project.id, next.kind);
      },
      periodMs: (started) => this.schedule.roundPeriodMs(this.watches.all(), this.now(), started, this.sweeper?.covering ?? false),
    });
  }

  /**
   * One visit of a project: a scan of its newest jobs (baseline, hot, expedited), a pipelines
   * check (round-robin), or both (a re-listing after a 403/404 or a return). A scan and a check
   * of the same project may run at once; two of the same kind never do.
   */
  private async visit(projectId: number, kind: VisitKind): Promise<void> {
    const watch = this.watches.get(projectId);
    if (!watch || this.abort.signal.aborted) return;
    if ((kind === "hot" || kind === "expedited") && (watch.resync || watch.watermark === null)) return;
    const release = this.schedule.claim(projectId, kind);
    if (!release) return;
    if (kind === "baseline") watch.urgent = false;
    try {
      if (kind !== "pipelines") await this.scan.scan(watch, kind);
      if (kind === "pipelines" || kind === "resync") await this.check.check(watch);
      this.policy.succeeded(watch, kind);
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.sync.failed();
      this.policy.failed(watch, error);
    } finally {
      release();
    }
  }

  private sweepLoop(graphql: Pick<GitLabGraphql, "query">, clock: GitLabClock, rejections: Rejections): SweepLoop {
    const { log } = this.deps;
    return new SweepLoop({
      setting: this.options.readPath ?? "auto",
      // A shard sweeps its own projects by id, 50 a request: a group's pages would list every shard's.
      groups: new GroupSweep(graphql, this.options.owns ? [] : this.options.groups, rejections, log),
      instance: new InstanceSweep(graphql, rejections),
      jobs: this.deps.jobs,
      watched: () => this.watches.all().filter((w) => w.readable).map((w) => w.project),
      readByRest: (projectId) => this.readByRest(projectId),
      swept: (projectId) => {
        const watch = this.watches.get(projectId);
        if (watch) watch.swept = true;
      },
      clock,
      log,
      now: this.now,
      onReadPath: (path) => this.deps.onReadPath?.(path),
      onSweep: (path, outcome, requests) => {
        this.deps.onSweep?.(path, outcome, requests);
        this.publishProjectStates();
      },
    });
  }

  /** Sweeps every interval once discovery answered; the first at once. */
  private async sweepRepeatedly(sweeper: SweepLoop): Promise<void> {
    const { signal } = this.abort;
    await Promise.race([this.firstDiscovery, new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
    const intervalMs = this.options.sweepIntervalMs ?? this.options.pollIntervalMs;
    await repeat("sweep", () => sweeper.tick(), () => intervalMs, { signal, now: this.now, log: this.deps.log, immediate: true });
  }

  /**
   * A webhook or the sweep told of something only REST reads in full (how jobs ended, a job to
   * place): a scan soon, or, before the project's first visit, that visit ahead of the others.
   */
  private readByRest(projectId: number, unplaced: readonly UnplacedJob[] = []): void {
    const watch = this.watches.get(projectId);
    if (!watch || !this.watches.touched(projectId, unplaced)) return;
    if (watch.watermark === null || watch.resync) watch.urgent = true;
    else if (!this.abort.signal.aborted) this.expedited.add(projectId);
  }

  private publishProjectStates(): void {
    const now = this.now();
    const all = this.watches.all();
    const hot = all.filter((watch) => this.schedule.isHot(watch, now)).length;
    const unread = all.filter((w) => w.readable && !w.visited && !w.swept).length;
    this.deps.onProjectStates(hot, all.length - hot, unread);
  }
}
