import { Counter, type Registry } from "prom-client";
import { DEFAULT_LABEL_VALUE_MAX_BYTES } from "../domain/label-value.js";

/** What the guard needs to know of a family. */
export interface CountedFamily<L extends string> {
  readonly name: string;
  readonly size: number;
  has(labels: Readonly<Record<L, string>>): boolean;
}

/**
 * A cap on series per family. A label value that keeps changing (a runner description per
 * autoscaled machine, a branch name per pipeline) must not grow the exporter's memory and
 * Prometheus' index without bound: past the cap a new label set is refused and counted. The
 * bytes of each series are bounded too: every family cuts its label values to
 * `labelValueMaxBytes`.
 */
export class SeriesGuard {
  private readonly dropped: Counter<"family">;

  constructor(
    registry: Registry,
    readonly maxPerFamily: number,
    /** The cap on each label value, in bytes of UTF-8, that every family applies (`LABEL_VALUE_MAX_BYTES`). */
    readonly labelValueMaxBytes: number = DEFAULT_LABEL_VALUE_MAX_BYTES,
  ) {
    this.dropped = new Counter({
      name: "gitlab_ci_exporter_series_dropped_total",
      help: "Samples not exported because their family reached MAX_SERIES_PER_FAMILY series: each refused update of a counter, histogram or object, and each label set of a scrape-time gauge once when it starts being left out.",
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

  /** For a family rendered afresh at each scrape (a gauge read from live state): its cap. */
  atScrape(family: string): ScrapeCap {
    return new ScrapeCap(this.maxPerFamily, (refused) => this.dropped.inc({ family }, refused));
  }
}

/**
 * The cap of a family whose samples are computed at each scrape. The first `max` label sets of a
 * rendering are written; each one left out is counted once when it starts being left out, not
 * again at every scrape while it stays out (that would make the count a multiple of the scrape
 * rate). A label set that got in again and is later left out once more counts once more.
 *
 * It remembers only the label sets left out at the last rendering, which are in the live state
 * anyway.
 */
export class ScrapeCap {
  private refusedLastTime = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly counted: (newlyRefused: number) => void,
  ) {}

  /** The samples that fit, from `samples` keyed by their label set; one call per rendering. */
  *take<T>(samples: Iterable<readonly [key: string, sample: T]>): Generator<T, void, undefined> {
    const refused = new Set<string>();
    let written = 0;
    try {
      for (const [key, sample] of samples) {
        if (written < this.max) {
          written++;
          yield sample;
        } else refused.add(key);
      }
    } finally {
      let newly = 0;
      for (const key of refused) if (!this.refusedLastTime.has(key)) newly++;
      this.refusedLastTime = refused;
      if (newly > 0) this.counted(newly);
    }
  }
}
