import type { Logger } from "pino";
import type { JobStore } from "../../state/jobs.js";
import type { ProjectRegistry, WatchedProject } from "../../state/projects.js";
import type { GitLabApi } from "./api.js";
import { sleep } from "./budget.js";
import { GitLabClock } from "./clock.js";
import { isGoneOrForbidden, ProjectDirectory } from "./discovery.js";
import { GitLabRequestError } from "./transport.js";
import { observeRestJob, parseGitLabTime, type RestJob } from "./wire.js";
import type { ActivitySink, UnplacedJob } from "./webhook-source.js";

export interface PollerOptions {
  readonly projects: readonly string[];
  readonly groups: readonly string[];
  readonly pollIntervalMs: number;
  readonly discoveryIntervalMs: number;
  readonly idleRequestsPerSecond: number;
  readonly hotProjectTtlMs: number;
  readonly maxConcurrentRequests: number;
}

export interface PollerDeps {
  readonly api: GitLabApi;
  readonly jobs: JobStore;
  readonly projects: ProjectRegistry;
  readonly log: Logger;
  readonly onSynced: (atMs: number) => void;
  readonly onProjectStates: (hot: number, idle: number) => void;
  /** GitLab's time, learned from its answers; the local clock less a margin without one. */
  readonly clock?: GitLabClock;
  readonly now?: () => number;
}

/** A pipelines check cut short by its bounds, continued at the next visit. */
interface CatchUp {
  /** Continue with pipelines updated at or before this (GitLab time, ms). */
  readonly beforeMs: number;
  /** Where the cursor goes once the listing is complete: the start of the first visit of the series. */
  readonly seriesStartMs: number;
}

/** Per-project bookkeeping of the poller. */
interface ProjectWatch {
  project: WatchedProject;
  /**
   * Highest job id seen in this project, or null before the first visit. A scan of the newest
   * jobs stops there; a job above it did not exist at the previous scan.
   */
  watermark: number | null;
  /** Its first visit (the baseline) completed, live jobs included. */
  visited: boolean;
  /** GitLab time (ms) from which pipeline changes are not read yet; null before the first visit. */
  pipelinesSinceMs: number | null;
  catchUp: CatchUp | null;
  /** Pipelines read by the last checks, with the `updated_at` they had: listed again unchanged, they are not read again. */
  readonly readPipelines: Map<number, string>;
  lastActivityMs: number;
  consecutiveFailures: number;
  notBeforeMs: number;
  /** False from a 403/404 until a poll succeeds again: its series are dropped, its markers kept. */
  readable: boolean;
  /**
   * Its live jobs must be listed again before it is trusted: after a 403/404, or when discovery
   * brings back a project it had dropped (its markers restored, its jobs not).
   */
  resync: boolean;
  /** Jobs webhooks named but could not place, with their pipelines, for the next poll. */
  readonly unplaced: Map<number, number | null>;
}

/** What is remembered of a project discovery no longer lists, should it come back. */
interface Departed {
  readonly watermark: number | null;
  readonly pipelinesSinceMs: number | null;
  readonly atMs: number;
}

type ScanReason = "baseline" | "hot" | "expedited" | "resync";

/** Page size of a first visit: most projects are idle, so keep the answer small. */
const BASELINE_PAGE_SIZE = 20;
const HOT_PAGE_SIZE = 100;
/** A project that created more jobs than this between two visits is read only this far. */
const MAX_SCAN_PAGES = 20;
/** Individual job reads allowed per project and visit to resolve jobs that left the live list. */
const MAX_JOB_READS = 20;
/** Pipelines listed per page of a pipelines check (GitLab's default page size); one page, or two with a backlog, per visit. */
const PIPELINES_PER_PAGE = 20;
/** Changed pipelines whose jobs are read per visit; the rest are read at the next visits. */
const MAX_PIPELINE_READS = 10;
/** Pipelines remembered per project as read; beyond it the least recently read may be read again. */
const MAX_READ_PIPELINES = 1000;
/** Pages of 100 jobs read per changed pipeline. */
const MAX_PIPELINE_JOB_PAGES = 3;
/**
 * How far back each pipelines check reaches before the previous one began, in GitLab's time: a
 * change committed late, or read from a lagging database replica, is still found. Pipelines
 * listed again unchanged are not read again, so the overlap costs no requests.
 */
export const PIPELINES_OVERLAP_MS = 30_000;
const MAX_FAILURE_BACKOFF_MS = 10 * 60_000;
const EXPEDITE_DELAY_MS = 250;
const NOTHING_TO_VISIT_DELAY_MS = 100;
/** Markers of projects discovery dropped are kept this long, for this many projects. */
const DEPARTED_TTL_MS = 24 * 60 * 60_000;
const DEPARTED_CAPACITY = 10_000;

/**
 * Decides which project to ask GitLab about, and when, so that the request rate follows CI
 * activity rather than the number of configured projects.
 *
 * - Hot projects (a live job that can move on its own, or activity within the hot TTL) are
 *   polled every interval. A poll reads the newest jobs down to the watermark, usually a single
 *   page; tracked live jobs older than that page are resolved with one list of live jobs.
 * - Every project, hot or idle, is visited round-robin at `idleRequestsPerSecond` visits a
 *   second. A visit asks which of the project's pipelines changed since the previous visit
 *   (`updated_after`): one small request when nothing did, and for each pipeline that changed,
 *   one read of its jobs. That finds what a scan of the newest jobs cannot: a manual job played
 *   or a delayed job started long after its pipeline was created, whose id lies below the
 *   watermark. So a job that turns pending anywhere shows up within
 *   `watched projects / idleRequestsPerSecond` seconds, even without webhooks.
 * - Projects never visited yet are visited first, at the full budget, to set their baseline.
 * - A webhook about a job we cannot place makes its project hot and polls it soon, reading the
 *   job's pipeline when the newest jobs do not include it.
 * - A project that answers 403 or 404 loses its series but keeps its markers, and is retried
 *   with backoff while discovery lists it; one discovery no longer lists is remembered for a day.
 */
export class GitLabPoller implements ActivitySink {
  private readonly watches = new Map<number, ProjectWatch>();
  private readonly departed = new Map<number, Departed>();
  private readonly directory: ProjectDirectory;
  private roundCursor = 0;
  private readonly scanning = new Set<number>();
  private readonly checking = new Set<number>();
  private readonly expedited = new Set<number>();
  private expediteTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>[] = [];
  private readonly roundVisits = new Set<Promise<void>>();
  private windowRequests = 0;
  private windowFailures = 0;
  private discovered = false;
  private discoveryFailures = 0;
  private synced = false;
  private readonly now: () => number;
  private readonly clock: GitLabClock;

  constructor(
    private readonly options: PollerOptions,
    private readonly deps: PollerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.clock = deps.clock ?? new GitLabClock(this.now);
    this.directory = new ProjectDirectory(
      deps.api,
      { projects: options.projects, groups: options.groups, discoveryIntervalMs: options.discoveryIntervalMs, now: this.now },
      deps.log,
    );
  }

  /**
   * True once projects were discovered and every one of them was visited once (or found
   * unreadable), and from then on: later trouble shows as staleness, not as unreadiness, so the
   * pod stays in its Service and keeps receiving webhooks while the API is down.
   */
  get initialSyncDone(): boolean {
    if (this.synced || !this.discovered) return this.synced;
    for (const watch of this.watches.values()) if (!watch.visited && watch.readable) return false;
    this.synced = true;
    return true;
  }

  start(): void {
    this.running.push(this.loop("discovery", () => this.discover(), () => this.discoveryDelayMs(), true));
    this.running.push(this.loop("hot poll", () => this.pollHotProjects(), () => this.options.pollIntervalMs, false));
    this.running.push(this.roundLoop());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.expediteTimer);
    await Promise.allSettled([...this.running, ...this.roundVisits]);
  }

  /** A webhook touched this project: keep it hot, and poll it soon if it needs details. */
  noteActivity(projectId: number, pollSoon: boolean, unplaced: readonly UnplacedJob[] = []): void {
    const watch = this.watches.get(projectId);
    if (!watch) return;
    watch.lastActivityMs = this.now();
    for (const job of unplaced) if (watch.unplaced.size < MAX_JOB_READS * 10) watch.unplaced.set(job.jobId, job.pipelineId);
    if (pollSoon && !this.abort.signal.aborted) {
      this.expedited.add(projectId);
      this.expediteTimer ??= setTimeout(() => {
        this.expediteTimer = undefined;
        const ids = [...this.expedited];
        this.expedited.clear();
        for (const id of ids) void this.visit(id, "expedited");
      }, EXPEDITE_DELAY_MS);
    }
  }

  private async loop(name: string, work: () => Promise<void>, delayMs: () => number, immediate: boolean): Promise<void> {
    const signal = this.abort.signal;
    if (!immediate) await sleep(0, signal).catch(() => undefined);
    while (!signal.aborted) {
      const started = this.now();
      try {
        await work();
      } catch (error) {
        if (signal.aborted) break;
        this.deps.log.warn({ err: describe(error) }, `GitLab ${name} failed`);
      }
      // Every interval from the start of the last round, not interval plus the round's duration.
      await sleep(Math.max(0, delayMs() - (this.now() - started)), signal).catch(() => undefined);
    }
  }

  /** Until the first discovery succeeds, retry quickly with backoff rather than a full interval. */
  private discoveryDelayMs(): number {
    if (this.discoveryFailures === 0) return this.options.discoveryIntervalMs;
    return Math.min(this.options.discoveryIntervalMs, 1000 * 2 ** Math.min(this.discoveryFailures - 1, 8));
  }

  private async discover(): Promise<void> {
    const { log } = this.deps;
    let found: WatchedProject[];
    try {
      found = await this.directory.discover();
      this.windowRequests++;
      this.discoveryFailures = 0;
    } catch (error) {
      this.windowFailures++;
      this.discoveryFailures++;
      throw error;
    }
    const now = this.now();
    const current = new Set(found.map((p) => p.id));
    for (const [id, watch] of this.watches) {
      if (current.has(id)) continue;
      this.rememberDeparted(watch, now);
      this.watches.delete(id);
      this.deps.jobs.dropProject(id);
    }
    let added = 0;
    for (const project of found) {
      const watch = this.watches.get(project.id);
      if (watch) {
        // Renamed or moved: same project, same markers; the registry moves its series.
        watch.project = project;
        continue;
      }
      const before = this.departed.get(project.id);
      this.departed.delete(project.id);
      this.watches.set(project.id, newWatch(project, before));
      added++;
    }
    // Unreadable projects stay watched (retried with backoff) but have no series meanwhile.
    this.deps.projects.replaceAll(found.filter((p) => this.watches.get(p.id)!.readable));
    if (added > 0 || !this.discovered) log.info({ projects: found.length, added }, "GitLab projects discovered");
    this.discovered = true;
    this.publishProjectStates();
  }

  private rememberDeparted(watch: ProjectWatch, now: number): void {
    for (const [id, entry] of this.departed) {
      if (this.departed.size < DEPARTED_CAPACITY && now - entry.atMs < DEPARTED_TTL_MS) break;
      this.departed.delete(id);
    }
    this.departed.set(watch.project.id, { watermark: watch.watermark, pipelinesSinceMs: watch.pipelinesSinceMs, atMs: now });
  }

  private async pollHotProjects(): Promise<void> {
    const now = this.now();
    const hot = [...this.watches.values()].filter((w) => w.watermark !== null && this.isHot(w, now) && w.notBeforeMs <= now);
    await Promise.all(hot.map((w) => this.visit(w.project.id, "hot")));
    this.closeWindow();
    this.publishProjectStates();
  }

  /** Ends an accounting window: the sync is fresh only if GitLab answered everything in it. */
  private closeWindow(): void {
    // With no project to watch, the last discovery that answered is the whole truth: nothing is stale.
    const nothingToAsk = this.watches.size === 0 && this.discoveryFailures === 0;
    if ((this.windowRequests > 0 || nothingToAsk) && this.windowFailures === 0 && this.discovered) this.deps.onSynced(this.now());
    this.windowRequests = 0;
    this.windowFailures = 0;
  }

  private roundDelayMs(): number {
    const now = this.now();
    for (const watch of this.watches.values()) if (this.firstVisitDue(watch, now)) return 0;
    return 1000 / this.options.idleRequestsPerSecond;
  }

  /** A baseline, or a re-listing after a 403/404 or a return, is due now: it goes before the round. */
  private firstVisitDue(watch: ProjectWatch, now: number): boolean {
    return (watch.watermark === null || watch.resync) && watch.notBeforeMs <= now && !this.scanning.has(watch.project.id);
  }

  /**
   * Starts round-robin visits on a fixed schedule rather than one after another, so the
   * configured rate holds whatever GitLab's latency; first visits (baselines) go as fast as the
   * budget allows.
   */
  private async roundLoop(): Promise<void> {
    const signal = this.abort.signal;
    let nextAt = this.now();
    while (!signal.aborted) {
      if (this.roundVisits.size >= this.options.maxConcurrentRequests) {
        await Promise.race(this.roundVisits);
        continue;
      }
      const next = this.nextRoundVisit();
      if (next) {
        const visit = this.visit(next.watch.project.id, next.kind).finally(() => this.roundVisits.delete(visit));
        this.roundVisits.add(visit);
      }
      // Absolute schedule: timer and event-loop delays do not pile up into a lower rate. With
      // nothing to visit (no projects yet, all backing off), look again soon.
      const period = next ? this.roundDelayMs() : NOTHING_TO_VISIT_DELAY_MS;
      const now = this.now();
      nextAt = Math.max(nextAt + period, now - 1000);
      await sleep(Math.max(0, nextAt - now), signal).catch(() => undefined);
    }
  }

  /** Baselines and re-listings first; then every project in a fixed round-robin order. */
  private nextRoundVisit(): { watch: ProjectWatch; kind: ScanReason | "pipelines" } | undefined {
    const now = this.now();
    const all = [...this.watches.values()];
    const first = all.find((w) => this.firstVisitDue(w, now) && !this.checking.has(w.project.id));
    if (first) return { watch: first, kind: first.resync ? "resync" : "baseline" };
    for (let i = 0; i < all.length; i++) {
      const watch = all[(this.roundCursor + i) % all.length]!;
      if (watch.notBeforeMs > now || watch.watermark === null || watch.resync || this.checking.has(watch.project.id)) continue;
      this.roundCursor = (this.roundCursor + i + 1) % all.length;
      return { watch, kind: "pipelines" };
    }
    return undefined;
  }

  private isHot(watch: ProjectWatch, now: number): boolean {
    if (!watch.readable) return false;
    const ttl = this.options.hotProjectTtlMs;
    return this.deps.jobs.hasActiveJobs(watch.project.id, ttl) || now - watch.lastActivityMs < ttl;
  }

  /**
   * One visit of a project: a scan of its newest jobs (baseline, hot, expedited), a pipelines
   * check (round-robin), or both (a re-listing after a 403/404 or a return). A scan and a check
   * of the same project may run at once; two of the same kind never do.
   */
  private async visit(projectId: number, kind: ScanReason | "pipelines"): Promise<void> {
    const watch = this.watches.get(projectId);
    if (!watch || this.abort.signal.aborted) return;
    if ((kind === "hot" || kind === "expedited") && (watch.resync || watch.watermark === null)) return;
    const scans = kind !== "pipelines";
    const checks = kind === "pipelines" || kind === "resync";
    if ((scans && this.scanning.has(projectId)) || (checks && this.checking.has(projectId))) return;
    if (scans) this.scanning.add(projectId);
    if (checks) this.checking.add(projectId);
    try {
      if (scans) await this.scanProject(watch, kind);
      if (checks) await this.checkPipelines(watch);
      watch.visited = true;
      watch.consecutiveFailures = 0;
      watch.notBeforeMs = 0;
      if (kind === "resync") watch.resync = false;
      if (!watch.readable) this.readableAgain(watch);
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.windowFailures++;
      this.handleProjectFailure(watch, error);
    } finally {
      if (scans) this.scanning.delete(projectId);
      if (checks) this.checking.delete(projectId);
    }
  }

  private readableAgain(watch: ProjectWatch): void {
    watch.readable = true;
    if (this.watches.get(watch.project.id) !== watch) return;
    this.deps.projects.add(watch.project);
    this.deps.log.info({ project: watch.project.path }, "project readable again; watched again");
    this.publishProjectStates();
  }

  private handleProjectFailure(watch: ProjectWatch, error: unknown): void {
    const { log } = this.deps;
    watch.consecutiveFailures++;
    const backoff = Math.min(this.options.pollIntervalMs * 2 ** (watch.consecutiveFailures - 1), MAX_FAILURE_BACKOFF_MS);
    watch.notBeforeMs = this.now() + backoff;
    if (isGoneOrForbidden(error)) {
      if (watch.readable) {
        // Deleted, or the token lost access: its series go now. Its markers stay, so the jobs
        // that finish meanwhile are counted once it is readable again.
        log.warn({ project: watch.project.path, status: (error as GitLabRequestError).status }, "project no longer readable; its series are dropped and it is retried with backoff");
        watch.readable = false;
        watch.resync = true;
        this.deps.jobs.dropProject(watch.project.id);
        this.deps.projects.removeById(watch.project.id);
        this.directory.recheckSoon(watch.project.id);
        this.publishProjectStates();
      }
      return;
    }
    log.warn({ project: watch.project.path, err: describe(error), retryInMs: backoff }, "polling project failed");
  }

  /**
   * Reads the project's newest jobs down to the watermark (usually one page). Tracked jobs the
   * scan did not reach are resolved with one list of live jobs, and so are all live jobs at a
   * first visit that did not read the whole history (an old job can still be pending behind
   * newer finished ones) and after a 403/404. Jobs a webhook could not place are looked up in
   * their pipelines.
   */
  private async scanProject(watch: ProjectWatch, reason: ScanReason): Promise<void> {
    const { api, jobs, log } = this.deps;
    const projectId = watch.project.id;
    const previous = watch.watermark;
    const perPage = previous === null ? BASELINE_PAGE_SIZE : HOT_PAGE_SIZE;
    const startedAt = this.now();

    const seen = new Set<number>();
    let highest = previous ?? 0;
    let complete = false;
    let foundNew = false;
    for (let page = 1; page <= MAX_SCAN_PAGES; page++) {
      const answer = await api.jobsPage(projectId, page, perPage);
      this.windowRequests++;
      // Readable again: back in the registry before its jobs are applied, so their counts have a project.
      if (!watch.readable) this.readableAgain(watch);
      let reachedWatermark = false;
      // The whole page is applied, also below the watermark: it updates tracked jobs for free.
      for (const job of answer.jobs) {
        seen.add(job.id);
        highest = Math.max(highest, job.id);
        const isNew = previous !== null && job.id > previous;
        foundNew ||= isNew;
        reachedWatermark ||= previous !== null && job.id <= previous;
        const observation = observeRestJob(job, projectId, answer.receivedAtMs);
        if (observation) jobs.apply(observation, isNew);
      }
      // The first visit sets the baseline from the newest page only: older jobs are history.
      if (reachedWatermark || !answer.hasNextPage || previous === null) {
        complete = reachedWatermark || !answer.hasNextPage;
        break;
      }
    }
    if (!complete && previous !== null) {
      log.warn({ project: watch.project.path, pages: MAX_SCAN_PAGES }, "more new jobs than one poll reads; older new jobs are found by the pipelines check");
    }
    watch.watermark = highest;
    if (watch.pipelinesSinceMs === null) watch.pipelinesSinceMs = this.clock.atOrBefore(startedAt) - PIPELINES_OVERLAP_MS;
    if (foundNew) watch.lastActivityMs = this.now();

    const unresolved = jobs.liveJobIds(projectId).some((id) => !seen.has(id));
    const mayMissLive = (reason === "baseline" && !complete) || reason === "resync";
    if (unresolved || mayMissLive) await this.resolveOlderLiveJobs(projectId, seen);
    await this.placeUnplaced(watch, seen);
  }

  /** Live jobs older than what the scan read: one keyset list, then single reads for the rest. */
  private async resolveOlderLiveJobs(projectId: number, seen: Set<number>): Promise<void> {
    const { api, jobs } = this.deps;
    const live = await api.liveJobs(projectId);
    this.windowRequests++;
    for (const job of live.jobs) {
      seen.add(job.id);
      const observation = observeRestJob(job, projectId, live.receivedAtMs);
      if (observation) jobs.apply(observation, false);
    }
    const left = jobs.liveJobIds(projectId).filter((id) => !seen.has(id));
    for (const jobId of left.slice(0, MAX_JOB_READS)) {
      try {
        const { job, receivedAtMs } = await api.job(projectId, jobId);
        this.windowRequests++;
        seen.add(job.id);
        const observation = observeRestJob(job, projectId, receivedAtMs);
        if (observation) jobs.apply(observation, false);
      } catch (error) {
        if (error instanceof GitLabRequestError && error.status === 404) {
          this.windowRequests++;
          jobs.forgetJob(jobId);
          continue;
        }
        throw error;
      }
    }
  }

  /** Webhook jobs the scan did not reach (played manual jobs, retries of old jobs): read their pipelines. */
  private async placeUnplaced(watch: ProjectWatch, seen: Set<number>): Promise<void> {
    if (watch.unplaced.size === 0) return;
    const projectId = watch.project.id;
    const pipelines = new Set<number>();
    let withoutPipeline = false;
    for (const [jobId, pipelineId] of watch.unplaced) {
      if (seen.has(jobId) || this.deps.jobs.isTracked(jobId)) continue;
      if (pipelineId === null) withoutPipeline = true;
      else pipelines.add(pipelineId);
    }
    watch.unplaced.clear();
    for (const pipelineId of [...pipelines].slice(0, MAX_PIPELINE_READS)) await this.readPipelineJobs(projectId, pipelineId, seen);
    if (withoutPipeline) await this.resolveOlderLiveJobs(projectId, seen);
  }

  /**
   * Asks which pipelines changed since the last check and reads the jobs of those that did,
   * most recently changed first. Costs one request when nothing changed, and at most two
   * listings plus `MAX_PIPELINE_READS × MAX_PIPELINE_JOB_PAGES` job pages. When more changed
   * than one visit reads (after an outage, or a project's first check), the rest is a backlog
   * continued at the next visits below the last pipeline handled (`updated_before`), while each
   * visit still reads the freshest changes first; the cursor moves once the backlog is done.
   */
  private async checkPipelines(watch: ProjectWatch): Promise<void> {
    if (watch.pipelinesSinceMs === null) return;
    const startedMs = this.clock.atOrBefore(this.now()) - PIPELINES_OVERLAP_MS;
    const toRead: Array<{ id: number; updatedAt: string }> = [];
    const queued = new Set<number>();
    const budget = { reads: MAX_PIPELINE_READS };

    const fresh = await this.listChangedPipelines(watch, undefined, toRead, queued, budget);
    let catchUp: CatchUp | null;
    if (watch.catchUp === null) {
      catchUp = fresh.complete ? null : { beforeMs: fresh.oldestHandledMs ?? startedMs, seriesStartMs: startedMs };
    } else {
      const backlog = await this.listChangedPipelines(watch, watch.catchUp.beforeMs, toRead, queued, budget);
      catchUp = backlog.complete ? null : { beforeMs: backlog.oldestHandledMs ?? watch.catchUp.beforeMs, seriesStartMs: watch.catchUp.seriesStartMs };
    }

    const seen = new Set<number>();
    let changed = false;
    for (const pipeline of toRead) {
      changed = (await this.readPipelineJobs(watch.project.id, pipeline.id, seen)) || changed;
      watch.readPipelines.delete(pipeline.id);
      watch.readPipelines.set(pipeline.id, pipeline.updatedAt);
      // A backlog that never ends (a project busier than its visits) must not grow this for ever.
      if (watch.readPipelines.size > MAX_READ_PIPELINES) watch.readPipelines.delete(watch.readPipelines.keys().next().value!);
    }
    if (changed) watch.lastActivityMs = this.now();

    if (catchUp === null) {
      const cursor = watch.catchUp?.seriesStartMs ?? startedMs;
      watch.pipelinesSinceMs = cursor;
      watch.catchUp = null;
      // Pipelines last updated before the new cursor are listed again only once they change.
      for (const [id, updatedAt] of watch.readPipelines) {
        const ms = parseGitLabTime(updatedAt);
        if (ms === null || ms < cursor) watch.readPipelines.delete(id);
      }
    } else {
      watch.catchUp = catchUp;
    }
  }

  /**
   * One page of the pipelines changed since the cursor (and at or before `beforeMs`), newest
   * change first; queues those not read in their current state, within the visit's budget.
   * Complete when nothing is left beyond what it queued.
   */
  private async listChangedPipelines(
    watch: ProjectWatch,
    beforeMs: number | undefined,
    toRead: Array<{ id: number; updatedAt: string }>,
    queued: Set<number>,
    budget: { reads: number },
  ): Promise<{ complete: boolean; oldestHandledMs: number | undefined }> {
    const answer = await this.deps.api.updatedPipelines(watch.project.id, {
      updatedAfterMs: watch.pipelinesSinceMs!,
      ...(beforeMs === undefined ? {} : { updatedBeforeMs: beforeMs }),
      page: 1,
      perPage: PIPELINES_PER_PAGE,
    });
    this.windowRequests++;
    let oldestHandledMs: number | undefined;
    for (const pipeline of answer.pipelines) {
      if (watch.readPipelines.get(pipeline.id) !== pipeline.updated_at && !queued.has(pipeline.id)) {
        if (budget.reads === 0) return { complete: false, oldestHandledMs };
        budget.reads--;
        queued.add(pipeline.id);
        toRead.push({ id: pipeline.id, updatedAt: pipeline.updated_at });
      }
      oldestHandledMs = parseGitLabTime(pipeline.updated_at) ?? oldestHandledMs;
    }
    return { complete: !answer.hasNextPage, oldestHandledMs };
  }

  /** Applies a pipeline's jobs (retried attempts included); true when any changed the state. */
  private async readPipelineJobs(projectId: number, pipelineId: number, seen: Set<number>): Promise<boolean> {
    const { api, jobs } = this.deps;
    let changed = false;
    for (let page = 1; page <= MAX_PIPELINE_JOB_PAGES; page++) {
      let answer;
      try {
        answer = await api.pipelineJobsPage(projectId, pipelineId, page, HOT_PAGE_SIZE);
      } catch (error) {
        // Deleted since it was listed: nothing left to read.
        if (error instanceof GitLabRequestError && error.status === 404 && error.endpoint.includes("pipelines")) {
          this.windowRequests++;
          return changed;
        }
        throw error;
      }
      this.windowRequests++;
      for (const job of answer.jobs) changed = this.applyListed(job, projectId, answer.receivedAtMs, seen) || changed;
      if (!answer.hasNextPage) break;
    }
    return changed;
  }

  private applyListed(job: RestJob, projectId: number, receivedAtMs: number, seen: Set<number>): boolean {
    seen.add(job.id);
    const observation = observeRestJob(job, projectId, receivedAtMs);
    return observation !== null && this.deps.jobs.apply(observation, false) === "changed";
  }

  private publishProjectStates(): void {
    const now = this.now();
    let hot = 0;
    for (const watch of this.watches.values()) if (this.isHot(watch, now)) hot++;
    this.deps.onProjectStates(hot, this.watches.size - hot);
  }
}

function newWatch(project: WatchedProject, before: Departed | undefined): ProjectWatch {
  return {
    project,
    watermark: before?.watermark ?? null,
    visited: before !== undefined && before.watermark !== null,
    pipelinesSinceMs: before?.pipelinesSinceMs ?? null,
    catchUp: null,
    readPipelines: new Map(),
    lastActivityMs: 0,
    consecutiveFailures: 0,
    notBeforeMs: 0,
    readable: true,
    resync: before !== undefined && before.watermark !== null,
    unplaced: new Map(),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
