import { ChunkedLines } from "./chunked-lines.js";

/**
 * Metric families that keep their exposition text ready, in the manner of kube-state-metrics:
 * a series' lines are rendered when it changes, and a scrape only joins them. prom-client renders
 * every series on every scrape, which is what makes large families slow to scrape.
 */
export type FamilyType = "counter" | "gauge" | "histogram";

export type Labels<L extends string> = Readonly<Record<L, string>>;

export abstract class TextFamily<L extends string = string> {
  private header: Buffer | null = null;
  private bodyBytes: Buffer[] | null = null;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    readonly labelNames: readonly L[],
  ) {}

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

  /** `{a="x",b="y"}` in the declared label order, values escaped. */
  protected labelText(labels: Labels<L>, extra?: string): string {
    const parts = this.labelNames.map((name) => `${name}="${escapeLabel(labels[name])}"`);
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

  protected key(labels: Labels<L>): string {
    return this.labelNames.map((name) => labels[name]).join("\u0000");
  }

  has(labels: Labels<L>): boolean {
    return this.series.has(this.key(labels));
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
  constructor(name: string, help: string, labelNames: readonly L[]) {
    super(name, help, "counter", labelNames);
  }

  inc(labels: Labels<L>, by = 1): void {
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
  ) {
    super(name, help, "histogram", labelNames);
    this.le = buckets.map((b) => `le="${formatValue(b)}"`);
  }

  observe(labels: Labels<L>, value: number): void {
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

/**
 * A gauge whose samples are read from state at scrape time; for families whose state already
 * holds aggregates (a handful of samples per project), not one sample per object.
 */
export class ComputedGaugeFamily<L extends string> extends TextFamily<L> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly samples: () => Iterable<readonly [Labels<L>, number]>,
  ) {
    super(name, help, "gauge", labelNames);
  }

  protected override bodyBuffers(): Buffer[] {
    return [Buffer.from(this.body())];
  }

  protected body(): string {
    let text = "";
    for (const [labels, value] of this.samples()) text += `${this.name}${this.labelText(labels)} ${formatValue(value)}\n`;
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
