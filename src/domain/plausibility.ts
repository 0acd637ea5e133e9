/**
 * What a timestamp or a duration from GitLab or Kubernetes may plausibly be. A value outside
 * these windows is not data but a broken clock or a forged payload: taken as it is, one such value
 * would move a horizon for good (a finish in year 9999), make a histogram sum +Inf, or date a
 * queue wait 30,000 years back. Each check answers the value to keep (null: unknown) and, when
 * the value was refused, why; the caller counts and logs the refusal.
 */

/**
 * Nothing of a CI system is older than October 2011, the month of GitLab's first commit (GitLab
 * CI followed in 2012, Kubernetes in 2014): an earlier timestamp is a zero date or a broken clock.
 */
export const EARLIEST_PLAUSIBLE_MS = Date.UTC(2011, 9, 1);

/**
 * How far ahead of the exporter's clock a peer's timestamp may be: NTP keeps GitLab's and
 * Kubernetes' nodes within seconds of each other, so five minutes covers a lagging exporter
 * host; a timestamp further ahead names a moment that has not happened yet.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * The longest a job can run or wait. GitLab caps every job timeout at `Project::MAX_BUILD_TIMEOUT
 * = 1.month` (app/models/project.rb, 30 days; the `timeout:` keyword is validated against it in
 * lib/gitlab/ci/config/entry/timeout.rb), and drops pending jobs after a day
 * (Ci::StuckBuilds::DropPendingService). One day more covers a job dropped by the stuck-job
 * cleanup some time after its timeout.
 */
export const MAX_JOB_SECONDS = 31 * 86_400;

/**
 * GitLab computes `duration` and `queued_duration` from timestamps written by different nodes,
 * so clock skew between them makes a short one slightly negative. Down to this much below zero
 * the value is read as 0; further below it is refused.
 */
export const SKEW_TOLERANCE_SECONDS = FUTURE_TOLERANCE_MS / 1000;

/** Why a value was refused: the `reason` label of `gitlab_ci_exporter_invalid_objects_total`. */
export type Implausibility = "future_timestamp" | "ancient_timestamp" | "invalid_timestamp" | "negative_duration" | "implausible_duration";

export interface Checked<T> {
  /** The value to use; null when unknown or refused. */
  readonly value: T | null;
  /** Set when the value was refused. */
  readonly refused: Implausibility | null;
}

const unknown: Checked<never> = { value: null, refused: null };

/** A Unix ms timestamp between GitLab's beginnings and a few minutes ahead of `nowMs`. */
export function plausibleTimestamp(ms: number | null | undefined, nowMs: number): Checked<number> {
  if (ms === null || ms === undefined) return unknown;
  if (!Number.isFinite(ms)) return { value: null, refused: "invalid_timestamp" };
  if (ms < EARLIEST_PLAUSIBLE_MS) return { value: null, refused: "ancient_timestamp" };
  if (ms > nowMs + FUTURE_TOLERANCE_MS) return { value: null, refused: "future_timestamp" };
  return { value: ms, refused: null };
}

/** Seconds a job ran or waited: finite, at most `MAX_JOB_SECONDS`; a small negative (skew) reads as 0. */
export function plausibleDuration(seconds: number | null | undefined): Checked<number> {
  if (seconds === null || seconds === undefined) return unknown;
  if (!Number.isFinite(seconds) || seconds > MAX_JOB_SECONDS) return { value: null, refused: "implausible_duration" };
  if (seconds < -SKEW_TOLERANCE_SECONDS) return { value: null, refused: "negative_duration" };
  return { value: Math.max(0, seconds), refused: null };
}

/** Told of each field refused, with the value as received. */
export type RefusalReport = (field: string, reason: Implausibility, value: unknown) => void;

/**
 * The checks of one object's fields against one moment, reporting each refusal by field name:
 * the rest of the object is kept, only the refused field becomes unknown.
 */
export class FieldChecks {
  constructor(
    private readonly nowMs: number,
    private readonly report: RefusalReport,
  ) {}

  /** A timestamp parsed to Unix ms (NaN when it did not parse); null or undefined when absent. */
  timestamp(field: string, ms: number | null | undefined, raw: unknown = ms): number | null {
    return this.kept(field, plausibleTimestamp(ms, this.nowMs), raw);
  }

  duration(field: string, seconds: number | null | undefined): number | null {
    return this.kept(field, plausibleDuration(seconds), seconds);
  }

  private kept(field: string, checked: Checked<number>, raw: unknown): number | null {
    if (checked.refused !== null) this.report(field, checked.refused, raw);
    return checked.value;
  }
}
