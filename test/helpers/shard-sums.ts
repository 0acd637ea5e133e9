import type { Sample } from "./prom.js";

/** The families of the exporter's own view of itself and of the process: per replica by nature, not summed. */
const PER_REPLICA = /^(gitlab_ci_exporter_|process_|nodejs_)/;

/** Gauges of the oldest something: replicas combine them with min, as the mixin does, not with sum. */
const OLDEST = /_oldest_/;

/** One sample's identity: its name and labels, sorted. */
export function seriesKey(sample: Sample): string {
  const labels = Object.entries(sample.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
  return `${sample.name}{${labels}}`;
}

/**
 * What several replicas export together, as `sum` (and `min` for the oldest-timestamp gauges) over
 * them reads it: every series of the shard's families, by name and labels. Series at zero are
 * left out (a counter or bucket a replica created and another did not is the same sum).
 */
export function combined(replicas: Iterable<readonly Sample[]>): Map<string, number> {
  const result = new Map<string, number>();
  for (const samples of replicas) {
    for (const sample of samples) {
      if (PER_REPLICA.test(sample.name)) continue;
      const key = seriesKey(sample);
      const before = result.get(key);
      result.set(key, before === undefined ? sample.value : OLDEST.test(sample.name) ? Math.min(before, sample.value) : before + sample.value);
    }
  }
  for (const [key, value] of result) if (value === 0 && !OLDEST.test(key)) result.delete(key);
  return result;
}

/** The families whose series each describe one object (a pod, a node, a project's jobs): no two replicas may export one. */
const PER_OBJECT = /^(gitlab_ci_job_pod_info|gitlab_ci_job_pod_container_resource_(requests|limits)|gitlab_ci_spot_node_created_timestamp_seconds|gitlab_ci_jobs_(pending|running|pending_oldest_queued_timestamp_seconds)|gitlab_ci_jobs_finished_total|gitlab_ci_job_(queued_)?duration_seconds_(count|sum|bucket))$/;

/** The series of per-object families that more than one replica exports: must be none. */
export function exportedTwice(replicas: ReadonlyMap<number, readonly Sample[]>): string[] {
  const owner = new Map<string, number>();
  const twice: string[] = [];
  for (const [ordinal, samples] of replicas) {
    for (const sample of samples) {
      if (!PER_OBJECT.test(sample.name)) continue;
      const key = seriesKey(sample);
      const first = owner.get(key);
      if (first !== undefined && first !== ordinal) twice.push(`${key} from ${first} and ${ordinal}`);
      owner.set(key, ordinal);
    }
  }
  return twice;
}

/** Per family, the sum of its values (a histogram's `_count`, `_sum` and buckets alike): the figures a failing comparison prints. */
export function familyTotals(series: ReadonlyMap<string, number>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const [key, value] of series) {
    const name = key.slice(0, key.indexOf("{"));
    totals[name] = (totals[name] ?? 0) + value;
  }
  return totals;
}

/**
 * A pending job's queue entry is its observation time less its queued duration, so two replicas
 * observing it apart tell it apart by that much: timestamps agree within this many seconds.
 */
export const TIMESTAMP_TOLERANCE_SECONDS = 5;

/** The keys whose values differ between two combined views, with both values: at most `limit`. */
export function differences(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>, limit = 20): string[] {
  const out: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    const tolerance = key.includes("_timestamp_seconds{") ? TIMESTAMP_TOLERANCE_SECONDS : 1e-6 * Math.max(1, Math.abs(x ?? 0));
    if (x === y || (x !== undefined && y !== undefined && Math.abs(x - y) <= tolerance)) continue;
    out.push(`${key}: ${x} vs ${y}`);
    if (out.length >= limit) break;
  }
  return out;
}
