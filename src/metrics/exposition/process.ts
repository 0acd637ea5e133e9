import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * Node's process and runtime metrics (CPU, memory, event loop lag, GC), from prom-client's
 * default collector: the one use of prom-client left, because it knows how to read /proc and V8.
 * Every other family, the exporter's own included, is rendered by this directory's engine.
 *
 * They read /proc and V8 statistics on every render, a fixed cost larger than rendering thousands
 * of pre-rendered series, so they are rendered at most once a second: far below any scrape
 * interval, so no scrape sees them older than that.
 */
export const PROCESS_METRICS_MAX_AGE_MS = 1000;

/**
 * Breakdowns of prom-client's defaults nothing reads: V8's heap per space, each garbage
 * collection by kind and duration, handles and resources by type, the event loop lag's other
 * statistics. About 60 series an exporter would send every scrape; the totals beside them stay
 * (heap used and committed, external memory, active handles and resources, the lag, its p99 and
 * its max).
 */
export const OMITTED_PROCESS_METRICS = [
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
  "nodejs_gc_duration_seconds",
  "nodejs_active_handles",
  "nodejs_active_resources",
  "nodejs_active_requests",
  "nodejs_eventloop_lag_min_seconds",
  "nodejs_eventloop_lag_mean_seconds",
  "nodejs_eventloop_lag_stddev_seconds",
  "nodejs_eventloop_lag_p50_seconds",
  "nodejs_eventloop_lag_p90_seconds",
] as const;

/** The process metrics' text, rendered at most once per `maxAgeMs`. */
export function processMetrics(maxAgeMs = PROCESS_METRICS_MAX_AGE_MS, now: () => number = Date.now): () => Promise<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of OMITTED_PROCESS_METRICS) registry.removeSingleMetric(name);
  let cached: { at: number; text: Promise<string> } | undefined;
  return () => {
    const at = now();
    if (!cached || at - cached.at > maxAgeMs) cached = { at, text: registry.metrics() };
    return cached.text;
  };
}

