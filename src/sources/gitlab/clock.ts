/**
 * GitLab's clock as seen through the `Date` header of its answers, for the one question the
 * poller asks in GitLab's time: "which pipelines changed since I last looked?" (`updated_after`).
 * The exporter's own clock may be off; a cursor taken from it could skip changes.
 *
 * `Date` is the server's time at the answer, truncated to the second, so for an answer received
 * at local time `t`, GitLab's time at `t` is at least `Date − t` ahead of the local clock. The
 * clock keeps the largest such offset seen in the last minute: a lower bound of GitLab's time,
 * never ahead of it by more than the network's jitter, and it follows a server clock that is
 * stepped back within a minute.
 */
export class GitLabClock {
  private offsetMs: number | null = null;
  private offsetSeenAtMs = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Records the `Date` header of an answer received at local time `receivedAtMs`. */
  observe(dateHeader: string | undefined, receivedAtMs: number = this.now()): void {
    if (!dateHeader) return;
    const serverMs = Date.parse(dateHeader);
    if (!Number.isFinite(serverMs)) return;
    const offset = serverMs - receivedAtMs;
    if (this.offsetMs === null || offset > this.offsetMs || receivedAtMs - this.offsetSeenAtMs > OFFSET_MEMORY_MS) {
      this.offsetMs = offset;
      this.offsetSeenAtMs = receivedAtMs;
    }
  }

  /** Whether GitLab has told its time yet. */
  get known(): boolean {
    return this.offsetMs !== null;
  }

  /**
   * A moment in GitLab's time no later than local time `localMs`; without an answer seen yet,
   * the local time less a margin for a clock that is off.
   */
  atOrBefore(localMs: number): number {
    return this.offsetMs === null ? localMs - UNKNOWN_CLOCK_MARGIN_MS : localMs + this.offsetMs;
  }
}

const OFFSET_MEMORY_MS = 60_000;
const UNKNOWN_CLOCK_MARGIN_MS = 5 * 60_000;
