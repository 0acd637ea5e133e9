import { ignoreRejections, type Rejections } from "../../lib/rejections.js";

/**
 * GitLab's clock as seen through the `Date` header of its answers, for the one question the
 * poller asks in GitLab's time: "which pipelines changed since I last looked?" (`updated_after`).
 * The exporter's own clock may be off; a cursor taken from it could skip changes.
 *
 * `Date` is the server's time at the answer, truncated to the second, so for an answer received
 * at local time `t`, GitLab's time at `t` is at least `Date − t` ahead of the local clock: each
 * answer gives a lower bound of the offset. One answer must not decide it, though: a proxy, a
 * stale cache or a broken node may send any `Date`, and an offset too far ahead would move the
 * cursor past changes never read. So the clock keeps the offsets of the last `SAMPLES` answers
 * and takes their lower median, which no single answer can lift above what the others say; it
 * never goes above the latest answer's offset either, so a server clock stepped back is
 * followed at its next answer. Erring low only makes the poller read some changes twice.
 * Until `MIN_SAMPLES` answers agree, GitLab is not taken to be ahead of the local clock at all.
 * A `Date` more than `MAX_PLAUSIBLE_SKEW_MS` from the local clock is no clock skew but a broken
 * answer: it is refused and counted.
 */
export class GitLabClock {
  /** Offsets (GitLab − local, ms) of the last answers, oldest first. */
  private readonly offsets: number[] = [];
  private offsetMs: number | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly rejections: Rejections = ignoreRejections,
  ) {}

  /** Records the `Date` header of an answer received at local time `receivedAtMs`. */
  observe(dateHeader: string | undefined, receivedAtMs: number = this.now()): void {
    if (!dateHeader) return;
    const serverMs = Date.parse(dateHeader);
    const offset = serverMs - receivedAtMs;
    if (!Number.isFinite(offset) || Math.abs(offset) > MAX_PLAUSIBLE_SKEW_MS) {
      this.rejections.reject("gitlab_clock", "implausible_date", { date: dateHeader.slice(0, 64) });
      return;
    }
    this.offsets.push(offset);
    if (this.offsets.length > SAMPLES) this.offsets.shift();
    this.offsetMs = conservativeOffset(this.offsets);
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

/** Answers the offset is taken from: enough for one or two odd ones to be outvoted. */
const SAMPLES = 7;
/** Answers needed before GitLab may be taken to be ahead of the local clock. */
const MIN_SAMPLES = 3;
/**
 * Real clocks, even unsynchronised or set in the wrong time zone, are within hours of each other
 * (local time is at most 14 hours from UTC); a day apart is a broken answer, not a clock.
 */
const MAX_PLAUSIBLE_SKEW_MS = 24 * 60 * 60_000;
const UNKNOWN_CLOCK_MARGIN_MS = 5 * 60_000;

/** The lower median of the recent offsets, capped by the latest; see GitLabClock. */
export function conservativeOffset(offsets: readonly number[]): number {
  const sorted = [...offsets].sort((a, b) => a - b);
  const lowerMedian = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const latest = offsets[offsets.length - 1]!;
  const offset = Math.min(lowerMedian, latest);
  return offsets.length < MIN_SAMPLES ? Math.min(offset, 0) : offset;
}
