import type { SimJob } from "./model.js";

/** ISO 8601 with milliseconds and Z, as the REST API and job hooks write timestamps. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** ISO 8601 without the fraction, as the `_iso` fields of a job hook. */
export const isoSeconds = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));

/** `2016-08-12 15:23:28 UTC`, as pipeline hooks write timestamps. */
export const utc = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");

/**
 * GitLab's `CommitStatus#calculate_duration(start, end)`: `(end || now) - start`, nil without a
 * start. So `queued_duration` grows while a job waits and freezes when it starts; `duration`
 * grows while it runs and freezes when it ends. A job that ended without ever starting keeps a
 * growing `queued_duration`, exactly as GitLab's does.
 */
function seconds(start: number | null, end: number | null, now: number): number | null {
  if (start === null) return null;
  return ((end ?? now) - start) / 1000;
}

export function queuedSeconds(job: SimJob, now: number): number | null {
  return seconds(job.queuedAt, job.startedAt, now);
}

export function runSeconds(job: SimJob, now: number): number | null {
  return seconds(job.startedAt, job.finishedAt, now);
}
