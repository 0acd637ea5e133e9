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

/** The process metrics' text, rendered at most once per `maxAgeMs`. */
export function processMetrics(maxAgeMs = PROCESS_METRICS_MAX_AGE_MS, now: () => number = Date.now): () => Promise<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let cached: { at: number; text: Promise<string> } | undefined;
  return () => {
    const at = now();
    if (!cached || at - cached.at > maxAgeMs) cached = { at, text: registry.metrics() };
    return cached.text;
  };
}

