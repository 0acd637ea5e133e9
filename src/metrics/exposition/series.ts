import { cutLabelValue } from "../../domain/label-value.js";
import { ChunkedLines } from "./chunked-lines.js";
import { TextFamily, formatValue, type FamilyOptions, type Labels } from "./family.js";

/**
 * Series kept by label set, each with its rendered lines; removal takes exactly its lines. A new
 * label set past the cap is refused and counted, an existing one always moves.
 */
abstract class SeriesFamily<L extends string, S extends { labels: Labels<L> }> extends TextFamily<L> {
  protected readonly series = new ChunkedLines<S>();

  protected override bodyBuffers(): Buffer[] {
    return this.series.buffers();
  }

  protected body(): string {
    return Buffer.concat(this.series.buffers()).toString();
  }

  has(labels: Labels<L>): boolean {
    return this.series.has(this.key(this.bounded(labels)));
  }

  /** The series' entry to update, a new one if it fits under the cap, or undefined when refused. */
  protected entry(labels: Labels<L>, key: string, create: () => S): S | undefined {
    const existing = this.series.get(key);
    if (existing) return existing;
    return this.admits(this.series.size, 1) ? create() : undefined;
  }

  /** Removes every series whose labels have the given values (compared as they are cut). */
  removeMatching(values: Partial<Labels<L>>): void {
    const wanted = Object.entries(values).map(([name, value]) => [name, cutLabelValue(value as string, this.labelValueMaxBytes)] as const);
    this.removeWhere((labels) => wanted.every(([name, value]) => (labels as Record<string, string>)[name] === value));
  }

  /** Removes every series whose labels match, e.g. all series of a project that is gone. */
  removeWhere(matches: (labels: Labels<L>) => boolean): void {
    let removed = false;
    for (const [key, entry] of [...this.series.entries()]) {
      if (matches(entry.labels)) {
        this.series.delete(key);
        removed = true;
      }
    }
    if (removed) this.invalidate();
  }

  get size(): number {
    return this.series.size;
  }
}

interface CounterSeries<L extends string> {
  readonly labels: Labels<L>;
  value: number;
}

export class CounterFamily<L extends string> extends SeriesFamily<L, CounterSeries<L>> {
  constructor(name: string, help: string, labelNames: readonly L[], options?: FamilyOptions) {
    super(name, help, "counter", labelNames, options);
  }

  inc(given: Labels<L>, by = 1): void {
    const labels = this.bounded(given);
    const key = this.key(labels);
    const entry = this.entry(labels, key, () => ({ labels, value: 0 }));
    if (!entry) return;
    entry.value += by;
    this.series.set(key, entry, `${this.name}${this.labelText(labels)} ${formatValue(entry.value)}\n`);
  }
}

interface HistogramSeries<L extends string> {
  readonly labels: Labels<L>;
  readonly counts: number[];
  sum: number;
  count: number;
}

export class HistogramFamily<L extends string> extends SeriesFamily<L, HistogramSeries<L>> {
  private readonly le: string[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    readonly buckets: readonly number[],
    options?: FamilyOptions,
  ) {
    super(name, help, "histogram", labelNames, options);
    this.le = buckets.map((b) => `le="${formatValue(b)}"`);
  }

  /** A value that is not a finite number is not observed: one +Inf or NaN would spoil the sum for good. */
  observe(given: Labels<L>, value: number): void {
    if (!Number.isFinite(value)) return;
    const labels = this.bounded(given);
    const key = this.key(labels);
    const entry = this.entry(labels, key, () => ({ labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    if (!entry) return;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) entry.counts[i]!++;
    entry.sum += value;
    entry.count++;
    let text = "";
    for (let i = 0; i < this.buckets.length; i++) text += `${this.name}_bucket${this.labelText(labels, this.le[i])} ${entry.counts[i]}\n`;
    text += `${this.name}_bucket${this.labelText(labels, 'le="+Inf"')} ${entry.count}\n`;
    const plain = this.labelText(labels);
    text += `${this.name}_sum${plain} ${formatValue(entry.sum)}\n${this.name}_count${plain} ${entry.count}\n`;
    this.series.set(key, entry, text);
  }
}
