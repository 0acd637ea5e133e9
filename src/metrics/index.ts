import { Registry as PromRegistry, collectDefaultMetrics, type Registry } from "prom-client";
import { ExporterMetrics } from "./exporter.js";
import { GitLabJobMetrics } from "./gitlab.js";
import { KubeMetrics } from "./kube.js";
import { SeriesGuard } from "./series-guard.js";
import type { TextFamily } from "./text-family.js";

export const DEFAULT_MAX_SERIES_PER_FAMILY = 50_000;

/**
 * prom-client's process metrics read /proc and V8 statistics on every render, a fixed cost larger
 * than rendering thousands of pre-rendered series. They are rendered at most once a second:
 * far below any scrape interval, so no scrape sees them older than that.
 */
const PROCESS_METRICS_MAX_AGE_MS = 1000;

/**
 * Every family of the exporter: small ones on a prom-client registry (the exporter's own health
 * and the process metrics), large ones as pre-rendered text families. The one place that lists
 * them; `/metrics` and the README's reference both read it.
 */
export function createMetrics(
  registry: Registry,
  options: { maxSeriesPerFamily?: number; labelValueMaxBytes?: number; kubernetes?: boolean; kubernetesNodes?: boolean } = {},
) {
  const guard = new SeriesGuard(registry, options.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY, options.labelValueMaxBytes);
  const jobs = new GitLabJobMetrics(guard);
  // The Kubernetes families exist only when the Kubernetes side runs, the spot node ones only when it watches nodes.
  const kube = options.kubernetes === false ? null : new KubeMetrics(guard, { nodes: options.kubernetesNodes !== false });
  const processRegistry = new PromRegistry();
  collectDefaultMetrics({ register: processRegistry });
  return {
    guard,
    registry,
    processMetrics: cachedFor(PROCESS_METRICS_MAX_AGE_MS, () => processRegistry.metrics()),
    exporter: new ExporterMetrics(registry),
    jobs,
    kube,
    textFamilies: (): TextFamily[] => (kube ? [...jobs.families(), ...kube.families()] : jobs.families()),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The exposition as the buffers a scrape writes: prom-client's families, then the pre-rendered
 * ones, whose bytes are encoded when they change rather than on every scrape.
 */
export async function renderMetrics(metrics: Metrics): Promise<Buffer[]> {
  // The text families first: a gauge computed now may count series it leaves out, and the
  // counter in the head should show that in the same scrape.
  const families = metrics.textFamilies().flatMap((family) => family.buffers());
  const head = Buffer.from((await metrics.processMetrics()) + (await metrics.registry.metrics()));
  return [head, ...families];
}

/** The exposition as one string, for tests and tools. */
export async function renderMetricsText(metrics: Metrics): Promise<string> {
  return Buffer.concat(await renderMetrics(metrics)).toString();
}

function cachedFor(maxAgeMs: number, render: () => Promise<string>): () => Promise<string> {
  let cached: { at: number; text: Promise<string> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > maxAgeMs) cached = { at: now, text: render() };
    return cached.text;
  };
}
