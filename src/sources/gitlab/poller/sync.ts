import type { ProjectWatch } from "./project-watch.js";
import type { AnswerTally } from "./sinks.js";

/**
 * Whether what the poller shows is fresh. Requests are counted in windows (a hot poll round
 * closes one); a window in which GitLab answered and nothing failed marks a sync, and so does
 * one with nothing to ask. Readiness (`initialSyncDone`) comes once, after the first complete
 * picture.
 */
export class SyncAccounting implements AnswerTally {
  private requests = 0;
  private failures = 0;
  private discovered = false;
  private synced = false;

  constructor(
    private readonly onSynced: (atMs: number) => void,
    private readonly now: () => number,
  ) {}

  answered(): void {
    this.requests++;
  }

  failed(): void {
    this.failures++;
  }

  /** A discovery succeeded: from now on a window can mark a sync. */
  discoveryDone(): void {
    this.discovered = true;
  }

  get hasDiscovered(): boolean {
    return this.discovered;
  }

  /**
   * Ends an accounting window: the sync is fresh only if GitLab answered everything in it.
   * `nothingToAsk`: no project to watch, and the last discovery answered, so nothing is stale.
   */
  closeWindow(nothingToAsk: boolean): void {
    if ((this.requests > 0 || nothingToAsk) && this.failures === 0 && this.discovered) this.onSynced(this.now());
    this.requests = 0;
    this.failures = 0;
  }

  /**
   * True once projects were discovered and either a sweep read them all or every one of them
   * was visited once (or found unreadable), and from then on: later trouble shows as staleness, not as unreadiness, so the
   * pod stays in its Service and keeps receiving webhooks while the API is down.
   */
  initialSyncDone(watches: Iterable<ProjectWatch>, swept = false): boolean {
    if (this.synced || !this.discovered) return this.synced;
    // A sweep read every project at once: first visits may follow behind readiness.
    if (swept) return (this.synced = true);
    for (const watch of watches) if (!watch.visited && watch.readable) return false;
    this.synced = true;
    return true;
  }
}
