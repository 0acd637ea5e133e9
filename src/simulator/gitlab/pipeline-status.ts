import type { SimJob, SimPipelineStatus } from "./model.js";

type Key = SimJob["status"] | "success_with_warnings" | "ignored";

/**
 * A pipeline's status from its latest jobs, in the order of GitLab's
 * `Gitlab::Ci::Status::Composite#status`: allowed-to-fail jobs that failed or were canceled
 * count as "success with warnings", allowed-to-fail manual jobs are ignored, retried jobs are
 * left out. A pipeline without jobs stays "created".
 */
export function compositeStatus(jobs: Iterable<SimJob>): SimPipelineStatus {
  const seen = new Set<Key>();
  for (const job of jobs) {
    if (job.retried) continue;
    seen.add(keyOf(job));
  }
  if (seen.size === 0) return "created";
  const onlyOf = (...keys: Key[]) => [...seen].every((k) => keys.includes(k));
  const anyOf = (...keys: Key[]) => keys.some((k) => seen.has(k));
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

function keyOf(job: SimJob): Key {
  if (job.allowFailure && (job.status === "failed" || job.status === "canceled")) return "success_with_warnings";
  if (job.allowFailure && job.status === "manual") return "ignored";
  return job.status;
}
