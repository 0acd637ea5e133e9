import { cutLabelValue, DEFAULT_LABEL_VALUE_MAX_BYTES } from "../../domain/label-value.js";
import type { CountingGate } from "../../lib/counting-gate.js";

/**
 * Metric families that keep their exposition text ready, in the manner of kube-state-metrics:
 * a series' lines are rendered when it changes, and a scrape only joins them. Every family of
 * the exporter, its own health included, is one of the kinds built on this base.
 */
export type FamilyType = "counter" | "gauge" | "histogram";

export type Labels<L extends string> = Readonly<Record<L, string>>;

/**
 * The cap on series per family (`MAX_SERIES_PER_FAMILY`). A label value that keeps changing (a
 * runner description per autoscaled machine, a branch name per pipeline) must not grow the
 * exporter's memory and Prometheus' index without bound: past the cap a family refuses new
 * series and tells the limit what it left out, which counts it.
 */
export interface SeriesLimit {
  readonly maxPerFamily: number;
  refused(family: string, samples: number): void;
}

export interface FamilyOptions {
  /**
   * Every label value is cut to this many bytes of UTF-8 (`LABEL_VALUE_MAX_BYTES`), before its
   * series is keyed: a series cap counts series, and one label value of a megabyte from a peer
   * would otherwise cost a megabyte per series, per scrape.
   */
  readonly labelValueMaxBytes?: number;
  /** The series cap; unbounded when absent. */
  readonly limit?: SeriesLimit;
  /** Holds the counts of counters and histograms back while the replica stands by; none when absent. */
  readonly gate?: CountingGate;
}

export abstract class TextFamily<L extends string = string> {
  private header: Buffer | null = null;
  private bodyBytes: Buffer[] | null = null;
  readonly labelValueMaxBytes: number;
  protected readonly limit: SeriesLimit | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    readonly labelNames: readonly L[],
    options: FamilyOptions = {},
  ) {
    this.labelValueMaxBytes = options.labelValueMaxBytes ?? DEFAULT_LABEL_VALUE_MAX_BYTES;
    this.limit = options.limit;
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

  /** Whether `samples` more fit under the cap; counts them as dropped when not. */
  protected admits(current: number, samples: number): boolean {
    if (!this.limit || current + samples <= this.limit.maxPerFamily) return true;
    this.limit.refused(this.name, samples);
    return false;
  }

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
    // `le` first, as prom-client writes it and the tests and dashboards were written against.
    if (extra) parts.unshift(extra);
    return parts.length === 0 ? "" : `{${parts.join(",")}}`;
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
