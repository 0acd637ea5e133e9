import { cutLabelValue, DEFAULT_LABEL_VALUE_MAX_BYTES } from "../domain/label-value.js";
import { ChunkedLines } from "./chunked-lines.js";
import type { ScrapeCap } from "./series-guard.js";

/**
 * Metric families that keep their exposition text ready, in the manner of kube-state-metrics:
 * a series' lines are rendered when it changes, and a scrape only joins them. prom-client renders
 * every series on every scrape, which is what makes large families slow to scrape.
 */
export type FamilyType = "counter" | "gauge" | "histogram";

export type Labels<L extends string> = Readonly<Record<L, string>>;

export interface FamilyOptions {
  /**
   * Every label value is cut to this many bytes of UTF-8 (`LABEL_VALUE_MAX_BYTES`), before its
   * series is keyed: a series cap counts series, and one label value of a megabyte from a peer
   * would otherwise cost a megabyte per series, per scrape.
   */
  readonly labelValueMaxBytes?: number;
}

export abstract class TextFamily<L extends string = string> {
  private header: Buffer | null = null;
  private bodyBytes: Buffer[] | null = null;
  readonly labelValueMaxBytes: number;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    readonly labelNames: readonly L[],
    options: FamilyOptions = {},
  ) {
    this.labelValueMaxBytes = options.labelValueMaxBytes ?? DEFAULT_LABEL_VALUE_MAX_BYTES;
  }

  /** HELP, TYPE and every sample, as the buffers a scrape writes out unchanged. */
  buffers(): Buffer[] {
    this.header ??= Buffer.from(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`);
    return [this.header, ...this.bodyBuffers()];
  }

  /** The same as text, each line ending in a newline. */
  render(): string {
    return Buffer.concat(this.buffers()).toString();
  }

  /** The samples' bytes: by default the body text, encoded once per change. */
  protected bodyBuffers(): Buffer[] {
    this.bodyBytes ??= [Buffer.from(this.body())];
    return this.bodyBytes;
  }

  protected invalidate(): void {
    this.bodyBytes = null;
  }

  protected abstract body(): string;

  /** The labels with every value cut to `labelValueMaxBytes`; the same object when none needed it. */
  protected bounded(labels: Labels<L>): Labels<L> {
    let result: Record<L, string> | null = null;
    for (const name of this.labelNames) {
      const value = labels[name];
      const cut = cutLabelValue(value, this.labelValueMaxBytes);
      if (cut === value) continue;
      result ??= { ...labels };
      result[name] = cut;
    }
    return result ?? labels;
  }

  /** A series' identity: its (cut) label values in the declared order. */
  protected key(labels: Labels<L>): string {
    return this.labelNames.map((name) => labels[name]).join("\u0000");
  }

  /** `{a="x",b="y"}` in the declared label order, values cut and escaped. */
  protected labelText(labels: Labels<L>, extra?: string): string {
    const parts = this.labelNames.map((name) => `${name}="${escapeLabel(cutLabelValue(labels[name], this.labelValueMaxBytes))}"`);
    // `le` first, as prom-client writes it, so both renderings are byte for byte the same.
    if (extra) parts.unshift(extra);
    return parts.length === 0 ? "" : `{${parts.join(",")}}`;
  }
}

/** Series kept by key, each with its rendered lines; removal takes exactly its lines. */
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
    let entry = this.series.get(key);
    entry ??= { labels, value: 0 };
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
    let entry = this.series.get(key);
    entry ??= { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
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

export interface ComputedGaugeOptions extends FamilyOptions {
  /**
   * How two samples whose label sets are one series once cut make one value (a sum of jobs, the
   * earliest of two timestamps); the sum when absent.
   */
  readonly combine?: (a: number, b: number) => number;
  /** The family's series cap, applied to each rendering. */
  readonly cap?: ScrapeCap;
}

/**
 * A gauge whose samples are read from state at scrape time; for families whose state already
 * holds aggregates (a handful of samples per project), not one sample per object.
 */
export class ComputedGaugeFamily<L extends string> extends TextFamily<L> {
  private readonly combine: (a: number, b: number) => number;
  private readonly cap: ScrapeCap | undefined;

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly samples: () => Iterable<readonly [Labels<L>, number]>,
    options: ComputedGaugeOptions = {},
  ) {
    super(name, help, "gauge", labelNames, options);
    this.combine = options.combine ?? ((a, b) => a + b);
    this.cap = options.cap;
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

export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
