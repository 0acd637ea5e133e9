import { Counter, type Registry } from "prom-client";

/** What the guard needs to know of a family. */
export interface CountedFamily<L extends string> {
  readonly name: string;
  readonly size: number;
  has(labels: Readonly<Record<L, string>>): boolean;
}

/**
 * A cap on series per family. A label value that keeps changing (a runner description per
 * autoscaled machine, a branch name per pipeline) must not grow the exporter's memory and
 * Prometheus' index without bound: past the cap a new label set is refused and counted.
 */
export class SeriesGuard {
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
  admit<L extends string>(family: CountedFamily<L>, labels: Readonly<Record<L, string>>): boolean {
    if (family.size < this.maxPerFamily || family.has(labels)) return true;
    this.dropped.inc({ family: family.name });
    return false;
  }

  /**
   * For per-object families (a pod's lines): whether a new object's samples fit. An object
   * already exported may always change; a refused one is tried again at its next change.
   */
  admitObject(family: { readonly name: string; readonly size: number; has(key: string): boolean }, key: string, samples: number): boolean {
    if (family.has(key) || family.size + samples <= this.maxPerFamily) return true;
    this.dropped.inc({ family: family.name }, samples);
    return false;
  }

  /** For families rendered afresh at each scrape: how many samples of `wanted` may be written. */
  limit(family: string, wanted: number): number {
    return Math.min(wanted, this.maxPerFamily);
  }
}
