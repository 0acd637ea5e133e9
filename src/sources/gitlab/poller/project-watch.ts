import type { WatchedProject } from "../../../domain/events.js";
import { BoundedMap } from "../../../lib/bounded-map.js";
import type { UnplacedJob } from "../webhook-source.js";
import type { JobSink, ProjectSink } from "./sinks.js";

/** Pipelines remembered per project as read; beyond it the least recently read may be read again. */
export const MAX_READ_PIPELINES = 1000;

/** Per-project bookkeeping of the poller. */
export interface ProjectWatch {
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
  readonly readPipelines: BoundedMap<number, string>;
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
  /** A sweep found what only REST tells before this project's first visit: it goes before the others. */
  urgent: boolean;
  /** A GraphQL sweep read its live jobs: it is not unread, even before its first visit. */
  swept: boolean;
}

/** A pipelines check cut short by its bounds, continued at the next visit. */
export interface CatchUp {
  /** Continue with pipelines updated at or before this (GitLab time, ms). */
  readonly beforeMs: number;
  /** Where the cursor goes once the listing is complete: the start of the first visit of the series. */
  readonly seriesStartMs: number;
}

/**
 * Why a project is visited: its first scan (baseline), a poll of a hot project, one a webhook
 * asked for (expedited), a re-listing after a 403/404 or a return (resync: a scan and a
 * pipelines check), or its turn in the round-robin (a pipelines check).
 */
export type VisitKind = "baseline" | "hot" | "expedited" | "resync" | "pipelines";
/** The visits that scan the newest jobs. */
export type ScanReason = Exclude<VisitKind, "pipelines">;

/** What is remembered of a project discovery no longer lists, should it come back. */
export interface Departed {
  readonly watermark: number | null;
  readonly pipelinesSinceMs: number | null;
  readonly atMs: number;
}

/** Markers of projects discovery dropped are kept this long, for this many projects. */
export const DEPARTED_TTL_MS = 24 * 60 * 60_000;
export const DEPARTED_CAPACITY = 10_000;
/** Webhook jobs waiting per project for the next poll to place them; more are left to the scans. */
export const MAX_UNPLACED_JOBS = 200;

export interface ProjectWatchesDeps {
  readonly jobs: Pick<JobSink, "dropProject">;
  readonly projects: Pick<ProjectSink, "replaceAll">;
  readonly now: () => number;
}

/**
 * The projects the poller watches, in discovery's order, with their bookkeeping; and the markers
 * of projects discovery stopped listing, so a project that comes back (a transfer, access
 * restored) resumes where it was rather than taking a new baseline that would miss finishes.
 */
export class ProjectWatches {
  private readonly watches = new Map<number, ProjectWatch>();
  private readonly departed = new Map<number, Departed>();

  constructor(private readonly deps: ProjectWatchesDeps) {}

  get(projectId: number): ProjectWatch | undefined {
    return this.watches.get(projectId);
  }

  /** Whether this very watch is still the project's (not one discovery dropped meanwhile). */
  isCurrent(watch: ProjectWatch): boolean {
    return this.watches.get(watch.project.id) === watch;
  }

  all(): ProjectWatch[] {
    return [...this.watches.values()];
  }

  get size(): number {
    return this.watches.size;
  }

  /** Projects remembered after discovery dropped them. */
  get departedCount(): number {
    return this.departed.size;
  }

  /**
   * Makes the watched set what discovery found: projects it no longer lists are remembered and
   * lose their jobs; new ones start from what was remembered of them, if anything. Returns how
   * many were added.
   */
  reconcile(found: readonly WatchedProject[]): number {
    const now = this.deps.now();
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
    return added;
  }

  /** A webhook touched the project: it is active now, and its unplaced jobs wait for the next poll. */
  touched(projectId: number, unplaced: readonly UnplacedJob[]): boolean {
    const watch = this.watches.get(projectId);
    if (!watch) return false;
    watch.lastActivityMs = this.deps.now();
    for (const job of unplaced) if (watch.unplaced.size < MAX_UNPLACED_JOBS) watch.unplaced.set(job.jobId, job.pipelineId);
    return true;
  }

  private rememberDeparted(watch: ProjectWatch, now: number): void {
    for (const [id, entry] of this.departed) {
      if (this.departed.size < DEPARTED_CAPACITY && now - entry.atMs < DEPARTED_TTL_MS) break;
      this.departed.delete(id);
    }
    this.departed.set(watch.project.id, { watermark: watch.watermark, pipelinesSinceMs: watch.pipelinesSinceMs, atMs: now });
  }
}

/** A project's bookkeeping when discovery finds it; `before`: what was remembered of it, if it left. */
export function newWatch(project: WatchedProject, before?: Departed): ProjectWatch {
  const returning = before !== undefined && before.watermark !== null;
  return {
    project,
    watermark: before?.watermark ?? null,
    visited: returning,
    pipelinesSinceMs: before?.pipelinesSinceMs ?? null,
    catchUp: null,
    readPipelines: new BoundedMap(MAX_READ_PIPELINES),
    lastActivityMs: 0,
    consecutiveFailures: 0,
    notBeforeMs: 0,
    readable: true,
    resync: returning,
    unplaced: new Map(),
    urgent: false,
    swept: false,
  };
}
