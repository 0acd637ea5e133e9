import { backoffDelayMs } from "../../../lib/backoff.js";
import type { ProjectWatch, VisitKind } from "./project-watch.js";
import type { JobSink } from "./sinks.js";

export interface ScheduleOptions {
  readonly pollIntervalMs: number;
  readonly discoveryIntervalMs: number;
  readonly idleRequestsPerSecond: number;
  readonly hotProjectTtlMs: number;
}

/** A project that keeps failing is visited at least this often. */
export const MAX_FAILURE_BACKOFF_MS = 10 * 60_000;
/** Until the first discovery succeeds it is retried with backoff up to this (or the interval, if shorter). */
export const MAX_DISCOVERY_RETRY_MS = 256_000;
/** Webhooks asking for a poll within this window share one visit per project. */
export const EXPEDITE_DELAY_MS = 250;
/** With nothing to visit (no projects yet, all backing off), the round looks again this soon. */
export const NOTHING_TO_VISIT_DELAY_MS = 100;

export interface RoundVisit {
  readonly watch: ProjectWatch;
  readonly kind: VisitKind;
}

/**
 * Decides which project to ask GitLab about, and when, so that the request rate follows CI
 * activity rather than the number of configured projects: hot projects every poll interval,
 * first visits before the round-robin, every project in turn at `idleRequestsPerSecond`, and a
 * project that fails only after its backoff. It also knows which visits are under way, so two
 * of the same kind never run at once for one project.
 */
export class Schedule {
  private roundCursor = 0;
  private readonly scanning = new Set<number>();
  private readonly checking = new Set<number>();

  constructor(
    private readonly options: ScheduleOptions,
    private readonly jobs: Pick<JobSink, "hasActiveJobs">,
  ) {}

  /** A live job that can move on its own, or activity within the hot TTL; never an unreadable project. */
  isHot(watch: ProjectWatch, now: number): boolean {
    if (!watch.readable) return false;
    const ttl = this.options.hotProjectTtlMs;
    return this.jobs.hasActiveJobs(watch.project.id, ttl) || now - watch.lastActivityMs < ttl;
  }

  /** The projects a hot poll visits now: hot ones past their baseline and their backoff. */
  hotVisits(watches: readonly ProjectWatch[], now: number): ProjectWatch[] {
    return watches.filter((w) => w.watermark !== null && this.isHot(w, now) && w.notBeforeMs <= now);
  }

  /** Baselines and re-listings first; then every project in a fixed round-robin order. */
  nextRoundVisit(watches: readonly ProjectWatch[], now: number): RoundVisit | undefined {
    const due = (w: ProjectWatch) => this.firstVisitDue(w, now) && !this.checking.has(w.project.id);
    const first = watches.find((w) => w.urgent && due(w)) ?? watches.find(due);
    if (first) return { watch: first, kind: first.resync ? "resync" : "baseline" };
    for (let i = 0; i < watches.length; i++) {
      const watch = watches[(this.roundCursor + i) % watches.length]!;
      if (watch.notBeforeMs > now || watch.watermark === null || watch.resync || this.checking.has(watch.project.id)) continue;
      this.roundCursor = (this.roundCursor + i + 1) % watches.length;
      return { watch, kind: "pipelines" };
    }
    return undefined;
  }

  /**
   * The wait before the next round visit: none while first visits are due, they go at the full
   * budget. When a sweep already shows every live job (`swept`), only the first visits it asked
   * for go at once; the others take their turn in the round, behind readiness.
   */
  roundPeriodMs(watches: readonly ProjectWatch[], now: number, visitedOne: boolean, swept = false): number {
    if (!visitedOne) return NOTHING_TO_VISIT_DELAY_MS;
    for (const watch of watches) if (this.firstVisitDue(watch, now) && (!swept || watch.urgent)) return 0;
    return 1000 / this.options.idleRequestsPerSecond;
  }

  /** The wait before visiting a project again after `failures` consecutive failures. */
  failureBackoffMs(failures: number): number {
    return backoffDelayMs(failures, { initialMs: this.options.pollIntervalMs, maxMs: MAX_FAILURE_BACKOFF_MS });
  }

  /** Until the first discovery succeeds, retry quickly with backoff rather than a full interval. */
  discoveryDelayMs(failures: number): number {
    const interval = this.options.discoveryIntervalMs;
    if (failures === 0) return interval;
    return backoffDelayMs(failures, { initialMs: 1000, maxMs: Math.min(interval, MAX_DISCOVERY_RETRY_MS) });
  }

  /**
   * Marks a visit under way; null when one of the same kind already is. A scan (every kind but
   * "pipelines") and a pipelines check (kinds "pipelines" and "resync") of one project may run
   * at once. The returned function ends it.
   */
  claim(projectId: number, kind: VisitKind): (() => void) | null {
    const scans = kind !== "pipelines";
    const checks = kind === "pipelines" || kind === "resync";
    if ((scans && this.scanning.has(projectId)) || (checks && this.checking.has(projectId))) return null;
    if (scans) this.scanning.add(projectId);
    if (checks) this.checking.add(projectId);
    return () => {
      if (scans) this.scanning.delete(projectId);
      if (checks) this.checking.delete(projectId);
    };
  }

  /** A baseline, or a re-listing after a 403/404 or a return, is due now: it goes before the round. */
  private firstVisitDue(watch: ProjectWatch, now: number): boolean {
    return (watch.watermark === null || watch.resync) && watch.notBeforeMs <= now && !this.scanning.has(watch.project.id);
  }
}

/**
 * Webhooks that need a poll: the projects they name are visited together once
 * `EXPEDITE_DELAY_MS` after the first, so a burst of deliveries costs one visit per project.
 */
export class ExpeditedVisits {
  private readonly pending = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly visit: (projectId: number) => void,
    private readonly delayMs: number = EXPEDITE_DELAY_MS,
  ) {}

  add(projectId: number): void {
    this.pending.add(projectId);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const ids = [...this.pending];
      this.pending.clear();
      for (const id of ids) this.visit(id);
    }, this.delayMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}
