import type { Logger } from "pino";
import type { JobStore } from "../../state/jobs.js";
import type { ProjectRegistry, WatchedProject } from "../../state/projects.js";
import type { GitLabApi } from "./api.js";
import { sleep } from "./budget.js";
import { discoverProjects } from "./discovery.js";
import { GitLabRequestError } from "./transport.js";
import { observeRestJob } from "./wire.js";

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
  readonly now?: () => number;
}

/** Per-project bookkeeping of the poller. */
interface ProjectWatch {
  readonly project: WatchedProject;
  /**
   * Highest job id seen in this project, or null before the first visit. Jobs above it are new
   * to us: one found already finished finished under our watch and is counted; finished jobs
   * at or below it are history (or already counted).
   */
  watermark: number | null;
  lastActivityMs: number;
  consecutiveFailures: number;
  notBeforeMs: number;
}

/** Page size of an idle visit: most find nothing new, so keep the answer small. */
const IDLE_PAGE_SIZE = 20;
const HOT_PAGE_SIZE = 100;
/** A project that created more jobs than this between two visits is read only this far. */
const MAX_SCAN_PAGES = 20;
/** Individual job reads allowed per project and visit to resolve jobs that left the live list. */
const MAX_JOB_READS = 20;
const MAX_FAILURE_BACKOFF_MS = 10 * 60_000;
const EXPEDITE_DELAY_MS = 250;


/**
 * Decides which project to ask GitLab about, and when, so that the request rate follows CI
 * activity rather than the number of configured projects.
 *
 * - Hot projects (live jobs, or activity within the hot TTL) are polled every interval. A poll
 *   reads the newest jobs down to the watermark, usually a single page; live jobs older than that
 *   page are resolved with one list of the project's live jobs.
 * - Idle projects are revisited round-robin at `idleRequestsPerSecond`, one small request each,
 *   so a job in an idle project shows up within `idle projects / idleRequestsPerSecond` seconds
 *   even without webhooks.
 * - Projects never visited yet are visited first, at the full budget, to set their baseline.
 * - A webhook about a job we cannot place makes its project hot and polls it soon.
 */
export class GitLabPoller {
  private readonly watches = new Map<number, ProjectWatch>();
  private idleCursor = 0;
  private readonly inProgress = new Set<number>();
  private readonly expedited = new Set<number>();
  private expediteTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>[] = [];
  private readonly idleVisits = new Set<Promise<void>>();
  private windowRequests = 0;
  private windowFailures = 0;
  private discovered = false;
  private discoveryFailures = 0;
  private readonly now: () => number;

  constructor(
    private readonly options: PollerOptions,
    private readonly deps: PollerDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** True once projects were discovered and every one of them has been visited once. */
  get initialSyncDone(): boolean {
    if (!this.discovered) return false;
    for (const watch of this.watches.values()) if (watch.watermark === null) return false;
    return true;
  }

  start(): void {
    this.running.push(this.loop("discovery", () => this.discover(), () => this.discoveryDelayMs(), true));
    this.running.push(this.loop("hot poll", () => this.pollHotProjects(), () => this.options.pollIntervalMs, false));
    this.running.push(this.idleLoop());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.expediteTimer);
    await Promise.allSettled([...this.running, ...this.idleVisits]);
  }

  /** A webhook touched this project: keep it hot, and poll it soon if it needs details. */
  noteActivity(projectId: number, pollSoon: boolean): void {
    const watch = this.watches.get(projectId);
    if (!watch) return;
    watch.lastActivityMs = this.now();
    if (pollSoon && !this.abort.signal.aborted) {
      this.expedited.add(projectId);
      this.expediteTimer ??= setTimeout(() => {
        this.expediteTimer = undefined;
        const ids = [...this.expedited];
        this.expedited.clear();
        for (const id of ids) void this.pollTracked(id, "expedited");
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
    const { api, log } = this.deps;
    let found: WatchedProject[];
    try {
      found = await discoverProjects(api, this.options.projects, this.options.groups, log);
      this.windowRequests++;
      this.discoveryFailures = 0;
    } catch (error) {
      this.windowFailures++;
      this.discoveryFailures++;
      throw error;
    }
    const added = this.deps.projects.replaceAll(found);
    const current = new Set(found.map((p) => p.id));
    for (const id of this.watches.keys()) {
      if (!current.has(id)) {
        this.watches.delete(id);
        this.deps.jobs.dropProject(id);
      }
    }
    for (const project of found) {
      const watch = this.watches.get(project.id);
      if (!watch || watch.project.path !== project.path) {
        this.watches.set(project.id, {
          project,
          watermark: watch?.watermark ?? null,
          lastActivityMs: watch?.lastActivityMs ?? 0,
          consecutiveFailures: 0,
          notBeforeMs: 0,
        });
      }
    }
    if (added.length > 0 || !this.discovered) log.info({ projects: found.length, added: added.length }, "GitLab projects discovered");
    this.discovered = true;
    this.publishProjectStates();
  }

  private async pollHotProjects(): Promise<void> {
    const now = this.now();
    const hot = [...this.watches.values()].filter((w) => w.watermark !== null && this.isHot(w, now) && w.notBeforeMs <= now);
    await Promise.all(hot.map((w) => this.pollTracked(w.project.id, "hot")));
    this.closeWindow();
    this.publishProjectStates();
  }

  /** Ends an accounting window: the sync is fresh only if GitLab answered everything in it. */
  private closeWindow(): void {
    if (this.windowRequests > 0 && this.windowFailures === 0 && this.discovered) this.deps.onSynced(this.now());
    this.windowRequests = 0;
    this.windowFailures = 0;
  }

  private idleDelayMs(): number {
    const now = this.now();
    for (const watch of this.watches.values()) if (watch.watermark === null && watch.notBeforeMs <= now) return 0;
    return 1000 / this.options.idleRequestsPerSecond;
  }

  /**
   * Starts idle visits on a fixed schedule rather than one after another, so the configured rate
   * holds whatever GitLab's latency; first visits (baselines) go as fast as the budget allows.
   */
  private async idleLoop(): Promise<void> {
    const signal = this.abort.signal;
    let nextAt = this.now();
    while (!signal.aborted) {
      if (this.idleVisits.size >= this.options.maxConcurrentRequests) {
        await Promise.race(this.idleVisits);
        continue;
      }
      const watch = this.nextIdle();
      if (watch) {
        const visit = this.pollTracked(watch.project.id, "idle").finally(() => this.idleVisits.delete(visit));
        this.idleVisits.add(visit);
      }
      // Absolute schedule: timer and event-loop delays do not pile up into a lower rate.
      const period = watch ? this.idleDelayMs() : Math.max(this.idleDelayMs(), 100);
      const now = this.now();
      nextAt = Math.max(nextAt + period, now - 1000);
      await sleep(Math.max(0, nextAt - now), signal).catch(() => undefined);
    }
  }

  /** Unvisited projects first; then idle ones in a fixed round-robin order. */
  private nextIdle(): ProjectWatch | undefined {
    const now = this.now();
    const all = [...this.watches.values()];
    const available = (w: ProjectWatch) => w.notBeforeMs <= now && !this.inProgress.has(w.project.id);
    const unvisited = all.find((w) => w.watermark === null && available(w));
    if (unvisited) return unvisited;
    for (let i = 0; i < all.length; i++) {
      const watch = all[(this.idleCursor + i) % all.length]!;
      if (!this.isHot(watch, now) && available(watch)) {
        this.idleCursor = (this.idleCursor + i + 1) % all.length;
        return watch;
      }
    }
    return undefined;
  }

  private isHot(watch: ProjectWatch, now: number): boolean {
    return this.deps.jobs.hasLiveJobs(watch.project.id) || now - watch.lastActivityMs < this.options.hotProjectTtlMs;
  }

  private async pollTracked(projectId: number, reason: "hot" | "idle" | "expedited"): Promise<void> {
    const watch = this.watches.get(projectId);
    if (!watch || this.inProgress.has(projectId) || this.abort.signal.aborted) return;
    this.inProgress.add(projectId);
    try {
      await this.pollProject(watch, reason);
      watch.consecutiveFailures = 0;
      watch.notBeforeMs = 0;
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.windowFailures++;
      this.handleProjectFailure(watch, error);
    } finally {
      this.inProgress.delete(projectId);
    }
  }

  private handleProjectFailure(watch: ProjectWatch, error: unknown): void {
    const { log } = this.deps;
    if (error instanceof GitLabRequestError && (error.status === 404 || error.status === 403)) {
      // Deleted, or the token lost access: its series go now; discovery brings it back if it returns.
      log.warn({ project: watch.project.path, status: error.status }, "project no longer readable; no longer watched");
      this.watches.delete(watch.project.id);
      this.deps.jobs.dropProject(watch.project.id);
      this.deps.projects.removeById(watch.project.id);
      return;
    }
    watch.consecutiveFailures++;
    const backoff = Math.min(this.options.pollIntervalMs * 2 ** (watch.consecutiveFailures - 1), MAX_FAILURE_BACKOFF_MS);
    watch.notBeforeMs = this.now() + backoff;
    log.warn({ project: watch.project.path, err: describe(error), retryInMs: backoff }, "polling project failed");
  }

  /**
   * Reads the project's newest jobs down to the watermark (usually one page), then resolves the
   * tracked jobs the scan did not reach with one list of live jobs.
   */
  private async pollProject(watch: ProjectWatch, reason: "hot" | "idle" | "expedited"): Promise<void> {
    const { api, jobs, log } = this.deps;
    const projectId = watch.project.id;
    const previous = watch.watermark;
    const perPage = reason === "idle" && !jobs.hasLiveJobs(projectId) ? IDLE_PAGE_SIZE : HOT_PAGE_SIZE;

    const seen = new Set<number>();
    let highest = previous ?? 0;
    let complete = false;
    let foundNew = false;
    let sawLiveAtBaseline = false;
    for (let page = 1; page <= MAX_SCAN_PAGES; page++) {
      const answer = await api.jobsPage(projectId, page, perPage);
      this.windowRequests++;
      let reachedWatermark = false;
      // The whole page is applied, also below the watermark: it updates tracked jobs for free.
      for (const job of answer.jobs) {
        seen.add(job.id);
        highest = Math.max(highest, job.id);
        const isNew = previous !== null && job.id > previous;
        foundNew ||= isNew;
        reachedWatermark ||= previous !== null && job.id <= previous;
        const observation = observeRestJob(job, projectId, answer.receivedAtMs);
        if (!observation) continue;
        jobs.apply(observation, isNew);
        if (previous === null && jobs.isTracked(job.id)) sawLiveAtBaseline = true;
      }
      // The first visit sets the baseline from the newest page only: older jobs are history.
      if (reachedWatermark || !answer.hasNextPage || previous === null) {
        complete = reachedWatermark || !answer.hasNextPage;
        break;
      }
    }
    if (!complete && previous !== null) {
      log.warn({ project: watch.project.path, pages: MAX_SCAN_PAGES }, "more new jobs than one poll reads; jobs beyond the last page are not counted");
    }
    watch.watermark = highest;
    if (foundNew) watch.lastActivityMs = this.now();

    const unresolved = jobs.liveJobIds(projectId).some((id) => !seen.has(id));
    const baselineMayMissLive = previous === null && sawLiveAtBaseline && !complete;
    if (unresolved || baselineMayMissLive) await this.resolveOlderLiveJobs(projectId, seen);
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

  private publishProjectStates(): void {
    const now = this.now();
    let hot = 0;
    for (const watch of this.watches.values()) if (this.isHot(watch, now)) hot++;
    this.deps.onProjectStates(hot, this.watches.size - hot);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
