import type { AnswerTally } from "./sinks.js";

/**
 * Whether what the poller shows is fresh. Requests are counted in windows (a hot poll round
 * closes one); a window in which GitLab answered and nothing failed marks a sync, and so does
 * one with nothing to ask. Readiness (`initialSyncDone`) comes once, after the first discovery
 * (and the first sweep, when there is one).
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
   * True once a discovery answered and, while a GraphQL sweep is first reading every project
   * (`sweepUnderWay`: seconds), once it ended; and from then on. Projects not read yet are
   * staleness (`gitlab_ci_exporter_gitlab_projects_unread`), not unreadiness: an unready pod
   * leaves its Service and would miss the webhooks GitLab does not send again, and later trouble
   * must not take it out either, as webhooks are the only news left while the API is down.
   */
  initialSyncDone(sweepUnderWay = false): boolean {
    if (this.synced || !this.discovered || sweepUnderWay) return this.synced;
    this.synced = true;
    return true;
  }
}
