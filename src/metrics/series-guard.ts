import { Counter, type Registry } from "prom-client";

/**
 * A cap on series per family. A label value that keeps changing (a runner description per
 * autoscaled machine, a branch name per pipeline) must not grow the exporter's memory and
 * Prometheus' index without bound: past the cap a new label set is refused and counted.
 */
export class SeriesGuard {
  private readonly admitted = new Map<string, Map<string, Readonly<Record<string, string>>>>();
  private readonly dropped: Counter<"family">;

  constructor(
    registry: Registry,
    readonly maxPerFamily: number,
  ) {
    this.dropped = new Counter({
      name: "gitlab_ci_exporter_series_dropped_total",
      help: "Samples not exported because their family reached MAX_SERIES_PER_FAMILY series.",
      labelNames: ["family"],
      registers: [registry],
    });
  }

  /** True when the label set already is a series of the family or there is room for it. */
  admit(family: string, labels: Readonly<Record<string, string>>): boolean {
    let series = this.admitted.get(family);
    if (!series) this.admitted.set(family, (series = new Map()));
    const key = seriesKey(labels);
    if (series.has(key)) return true;
    if (series.size >= this.maxPerFamily) {
      this.dropped.inc({ family });
      return false;
    }
    series.set(key, labels);
    return true;
  }

  /** Frees the series whose labels match, e.g. every series of a removed project. */
  release(family: string, matches: (labels: Readonly<Record<string, string>>) => boolean): void {
    const series = this.admitted.get(family);
    if (!series) return;
    for (const [key, labels] of series) if (matches(labels)) series.delete(key);
  }

  count(family: string): number {
    return this.admitted.get(family)?.size ?? 0;
  }
}

function seriesKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name]}`)
    .join("\u0000");
}
