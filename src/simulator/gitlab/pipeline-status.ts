import type { SimJob, SimPipelineStatus } from "./model.js";

/** What a job contributes to its pipeline's status. */
export type StatusKey = SimJob["status"] | "success_with_warnings" | "ignored";

/**
 * Allowed-to-fail jobs that failed or were canceled count as "success with warnings",
 * allowed-to-fail manual jobs are ignored; retried jobs count for nothing (null).
 */
export function statusKey(job: Pick<SimJob, "status" | "allowFailure" | "retried">): StatusKey | null {
  if (job.retried) return null;
  if (job.allowFailure && (job.status === "failed" || job.status === "canceled")) return "success_with_warnings";
  if (job.allowFailure && job.status === "manual") return "ignored";
  return job.status;
}

/**
 * A pipeline's status from the keys of its latest jobs, in the order of GitLab's
 * `Gitlab::Ci::Status::Composite#status`. A pipeline without jobs stays "created".
 */
export function compositeFromKeys(keys: ReadonlySet<StatusKey>): SimPipelineStatus {
  if (keys.size === 0) return "created";
  const onlyOf = (...allowed: StatusKey[]) => [...keys].every((k) => allowed.includes(k));
  const anyOf = (...wanted: StatusKey[]) => wanted.some((k) => keys.has(k));
  if (onlyOf("skipped", "ignored")) return "skipped";
  if (onlyOf("success", "skipped", "success_with_warnings", "ignored")) return "success";
  if (onlyOf("created", "success_with_warnings", "ignored")) return "created";
  if (onlyOf("preparing", "success_with_warnings", "ignored")) return "preparing";
  if (onlyOf("canceled", "success", "skipped", "success_with_warnings", "ignored")) return "canceled";
  if (onlyOf("pending", "created", "skipped", "success_with_warnings", "ignored")) return "pending";
  if (anyOf("running", "pending")) return "running";
  if (anyOf("waiting_for_resource")) return "waiting_for_resource";
  if (anyOf("manual")) return "manual";
  if (anyOf("scheduled")) return "scheduled";
  if (anyOf("preparing")) return "preparing";
  if (anyOf("created")) return "running";
  return "failed";
}

export function compositeStatus(jobs: Iterable<SimJob>): SimPipelineStatus {
  const keys = new Set<StatusKey>();
  for (const job of jobs) {
    const key = statusKey(job);
    if (key !== null) keys.add(key);
  }
  return compositeFromKeys(keys);
}

/**
 * Counts of status keys for one pipeline, kept up to date on every transition, so a pipeline's
 * status costs the same however many jobs it has.
 */
export class StatusTally {
  private readonly counts = new Map<StatusKey, number>();

  add(key: StatusKey | null): void {
    if (key !== null) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  remove(key: StatusKey | null): void {
    if (key === null) return;
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }

  status(): SimPipelineStatus {
    return compositeFromKeys(new Set(this.counts.keys()));
  }
}
