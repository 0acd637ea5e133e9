import type { Registry } from "prom-client";
import { ExporterMetrics } from "./exporter.js";
import { GitLabJobMetrics } from "./gitlab.js";
import { SeriesGuard } from "./series-guard.js";

export const DEFAULT_MAX_SERIES_PER_FAMILY = 50_000;

/** Every family of the exporter, registered on one registry: the one place that lists them. */
export function createMetrics(registry: Registry, options: { maxSeriesPerFamily?: number } = {}) {
  const guard = new SeriesGuard(registry, options.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY);
  return {
    guard,
    exporter: new ExporterMetrics(registry),
    jobs: new GitLabJobMetrics(registry, guard),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
