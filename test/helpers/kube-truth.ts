import { JOB_POD_STARTUP_BUCKETS } from "../../src/metrics/families/job-pods.js";
import type { StartupTruth, WaitingTruth } from "../../src/simulator/kube/index.js";
import type { Sample } from "./prom.js";

/**
 * The simulated cluster's truth of waiting and started job pods, and the exporter's samples, in one
 * shape each, so a test compares them whole: `project|reason → count`, `reason → oldest creation
 * (s)`, and per `nodegroup|capacity_type|new_node` the count, the sum (to the millisecond) and
 * the cumulative bucket counts of a startup histogram.
 */
export interface JobPodStartView {
  readonly waiting: Record<string, number>;
  readonly oldest: Record<string, number>;
  readonly startup: Record<string, HistogramView>;
  readonly scheduling: Record<string, HistogramView>;
}

interface HistogramView {
  readonly count: number;
  readonly sum: number;
  readonly buckets: readonly number[];
}

export function truthView(waiting: readonly WaitingTruth[], startups: readonly StartupTruth[]): JobPodStartView {
  const counts: Record<string, number> = {};
  const oldest: Record<string, number> = {};
  for (const pod of waiting) {
    const key = `${pod.project}|${pod.reason}`;
    counts[key] = (counts[key] ?? 0) + 1;
    oldest[pod.reason] = Math.min(oldest[pod.reason] ?? Infinity, pod.createdAtMs / 1000);
  }
  const histogram = (pick: (s: StartupTruth) => number) => {
    const groups: Record<string, number[]> = {};
    for (const s of startups) (groups[`${s.nodegroup}|${s.capacityType}|${s.newNode}`] ??= []).push(pick(s));
    return Object.fromEntries(
      Object.entries(groups).map(([key, values]) => [
        key,
        { count: values.length, sum: round(values.reduce((a, b) => a + b, 0)), buckets: JOB_POD_STARTUP_BUCKETS.map((le) => values.filter((v) => v <= le).length) },
      ]),
    );
  };
  return { waiting: counts, oldest, startup: histogram((s) => s.startupSeconds), scheduling: histogram((s) => s.schedulingSeconds) };
}

export function exportedView(samples: readonly Sample[]): JobPodStartView {
  const waiting: Record<string, number> = {};
  const oldest: Record<string, number> = {};
  for (const s of samples) {
    if (s.name === "gitlab_ci_job_pods_waiting") waiting[`${s.labels.project}|${s.labels.reason}`] = s.value;
    if (s.name === "gitlab_ci_job_pods_waiting_oldest_timestamp_seconds") oldest[s.labels.reason!] = s.value;
  }
  return { waiting, oldest, startup: histogramView(samples, "gitlab_ci_job_pod_startup_duration_seconds"), scheduling: histogramView(samples, "gitlab_ci_job_pod_scheduling_duration_seconds") };
}

function histogramView(samples: readonly Sample[], name: string): Record<string, HistogramView> {
  const result: Record<string, HistogramView> = {};
  const key = (s: Sample) => `${s.labels.nodegroup}|${s.labels.capacity_type}|${s.labels.new_node}`;
  for (const s of samples.filter((x) => x.name === `${name}_count`)) {
    const sum = samples.find((x) => x.name === `${name}_sum` && key(x) === key(s))!.value;
    const buckets = JOB_POD_STARTUP_BUCKETS.map((le) => samples.find((x) => x.name === `${name}_bucket` && key(x) === key(s) && Number(x.labels.le) === le)!.value);
    result[key(s)] = { count: s.value, sum: round(sum), buckets };
  }
  return result;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
