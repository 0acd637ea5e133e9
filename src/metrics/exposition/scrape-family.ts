import { TextFamily, formatValue, type FamilyOptions, type Labels, type SeriesLimit } from "./family.js";

export interface ScrapeFamilyOptions extends FamilyOptions {
  /** "gauge" unless the samples read are counts kept by the state. */
  readonly type?: "gauge" | "counter";
  /**
   * How two samples whose label sets are one series once cut make one value (a sum of jobs, the
   * earliest of two timestamps); the sum when absent.
   */
  readonly combine?: (a: number, b: number) => number;
}

/**
 * A family whose samples are read from state at scrape time; for state that already holds
 * aggregates (a handful of samples per project, the exporter's own counts), not one sample per
 * object. The cap applies to each rendering.
 */
export class ScrapeFamily<L extends string> extends TextFamily<L> {
  private readonly combine: (a: number, b: number) => number;
  private readonly cap: ScrapeCap | undefined;

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly samples: () => Iterable<readonly [Labels<L>, number]>,
    options: ScrapeFamilyOptions = {},
  ) {
    super(name, help, options.type ?? "gauge", labelNames, options);
    this.combine = options.combine ?? ((a, b) => a + b);
    this.cap = options.limit ? new ScrapeCap(options.limit, name) : undefined;
  }

  protected override bodyBuffers(): Buffer[] {
    return [Buffer.from(this.body())];
  }

  protected body(): string {
    const series = new Map<string, [Labels<L>, number]>();
    for (const [given, value] of this.samples()) {
      const labels = this.bounded(given);
      const key = this.key(labels);
      const earlier = series.get(key);
      if (earlier) earlier[1] = this.combine(earlier[1], value);
      else series.set(key, [labels, value]);
    }
    const written = this.cap ? this.cap.take(series.entries()) : series.values();
    let text = "";
    for (const [labels, value] of written) text += `${this.name}${this.labelText(labels)} ${formatValue(value)}\n`;
    return text;
  }
}

/**
 * The cap of a family whose samples are computed at each scrape. The first `maxPerFamily` label
 * sets of a rendering are written; each one left out is counted once when it starts being left
 * out, not again at every scrape while it stays out (that would make the count a multiple of the
 * scrape rate). A label set that got in again and is later left out once more counts once more.
 *
 * It remembers only the label sets left out at the last rendering, which are in the live state
 * anyway.
 */
export class ScrapeCap {
  private refusedLastTime = new Set<string>();

  constructor(
    private readonly limit: SeriesLimit,
    private readonly family: string,
  ) {}

  /** The samples that fit, from `samples` keyed by their label set; one call per rendering. */
  *take<T>(samples: Iterable<readonly [key: string, sample: T]>): Generator<T, void, undefined> {
    const refused = new Set<string>();
    let written = 0;
    try {
      for (const [key, sample] of samples) {
        if (written < this.limit.maxPerFamily) {
          written++;
          yield sample;
        } else refused.add(key);
      }
    } finally {
      let newly = 0;
      for (const key of refused) if (!this.refusedLastTime.has(key)) newly++;
      this.refusedLastTime = refused;
      if (newly > 0) this.limit.refused(this.family, newly);
    }
  }
}
