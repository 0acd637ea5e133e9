import type { Registry } from "prom-client";
import { ExporterMetrics } from "./exporter.js";
import { GitLabJobMetrics } from "./gitlab.js";
import { SeriesGuard } from "./series-guard.js";
import type { TextFamily } from "./text-family.js";

export const DEFAULT_MAX_SERIES_PER_FAMILY = 50_000;

/**
 * Every family of the exporter: small ones on a prom-client registry (the exporter's own health
 * and the process metrics), large ones as pre-rendered text families. The one place that lists
 * them; `/metrics` and the README's reference both read it.
 */
export function createMetrics(registry: Registry, options: { maxSeriesPerFamily?: number } = {}) {
  const guard = new SeriesGuard(registry, options.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY);
  const jobs = new GitLabJobMetrics(guard);
  return {
    guard,
    registry,
    exporter: new ExporterMetrics(registry),
    jobs,
    textFamilies: (): TextFamily[] => jobs.families(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The exposition: prom-client's families, then the pre-rendered ones. */
export async function renderMetrics(metrics: Metrics): Promise<string> {
  let text = await metrics.registry.metrics();
  for (const family of metrics.textFamilies()) text += family.render();
  return text;
}
