import type { FamilyOptions, FamilyType, Labels, SeriesLimit, TextFamily } from "./family.js";
import { ObjectGaugeFamily } from "./object-gauge.js";
import { ScrapeFamily } from "./scrape-family.js";
import { CounterFamily, HistogramFamily } from "./series.js";

/**
 * A family as data, in the spirit of kube-state-metrics' `FamilyGenerator`: its name, help, type
 * and labels, and how it reads the state `S` it describes. `build` makes the family and connects
 * it: render-on-change families subscribe to what the state concludes, scrape-time ones read it
 * when Prometheus asks. A new family is a new entry in a `families/` file.
 */
export interface FamilyGenerator<S> {
  readonly name: string;
  readonly help: string;
  readonly type: FamilyType;
  readonly labels: readonly string[];
  build(options: FamilyOptions, state: S): TextFamily;
}

interface Declaration<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labels: readonly L[];
}

type Samples<L extends string> = Iterable<readonly [Labels<L>, number]>;

/** What a counter's `connect` moves: its counts (through the gate, when there is one) and its series. */
export type CounterSink<L extends string> = Pick<CounterFamily<L>, "inc" | "removeMatching">;
export type HistogramSink<L extends string> = Pick<HistogramFamily<L>, "observe" | "removeMatching">;

/** A counter moved by what the state tells (`connect` subscribes it). */
export function counter<S, const L extends string>(d: Declaration<L> & { connect(state: S, family: CounterSink<L>): void }): FamilyGenerator<S> {
  return generator(d, "counter", (options, state) => {
    const family = new CounterFamily(d.name, d.help, d.labels, options);
    const gate = options.gate;
    d.connect(state, gate ? { inc: (labels, by) => gate.pass(() => family.inc(labels, by)), removeMatching: (values) => family.removeMatching(values) } : family);
    return family;
  });
}

export function histogram<S, const L extends string>(
  d: Declaration<L> & { readonly buckets: readonly number[]; connect(state: S, family: HistogramSink<L>): void },
): FamilyGenerator<S> {
  return generator(d, "histogram", (options, state) => {
    const family = new HistogramFamily(d.name, d.help, d.labels, d.buckets, options);
    const gate = options.gate;
    d.connect(state, gate ? { observe: (labels, value) => gate.pass(() => family.observe(labels, value)), removeMatching: (values) => family.removeMatching(values) } : family);
    return family;
  });
}

/** A gauge whose samples belong to objects, rendered when an object changes (`connect` subscribes it). */
export function objectGauge<S, const L extends string>(d: Declaration<L> & { connect(state: S, family: ObjectGaugeFamily<L>): void }): FamilyGenerator<S> {
  return generator(d, "gauge", (options, state) => {
    const family = new ObjectGaugeFamily(d.name, d.help, d.labels, options);
    d.connect(state, family);
    return family;
  });
}

interface ScrapeDeclaration<S, L extends string> extends Declaration<L> {
  samples(state: S): Samples<L>;
  /** How samples alike once their labels are cut make one; the sum when absent. */
  readonly combine?: (a: number, b: number) => number;
  /**
   * For state that keeps at most the cap of label sets itself: subscribes `count` to the label
   * sets it leaves out, which the cap counts as this family's.
   */
  leftOut?(state: S, count: (labelSets: number) => void): void;
}

/** A gauge read from the state at each scrape: for aggregates the state keeps current. */
export function scrapeGauge<S, const L extends string>(d: ScrapeDeclaration<S, L>): FamilyGenerator<S> {
  return scrape(d, "gauge");
}

/** A counter whose counts the state keeps, read at each scrape. */
export function scrapeCounter<S, const L extends string>(d: ScrapeDeclaration<S, L>): FamilyGenerator<S> {
  return scrape(d, "counter");
}

function scrape<S, L extends string>(d: ScrapeDeclaration<S, L>, type: "gauge" | "counter"): FamilyGenerator<S> {
  return generator(d, type, (options, state) => {
    d.leftOut?.(state, (labelSets) => options.limit?.refused(d.name, labelSets));
    return new ScrapeFamily(d.name, d.help, d.labels, () => d.samples(state), { ...options, type, ...(d.combine ? { combine: d.combine } : {}) });
  });
}

function generator<S, L extends string>(d: Declaration<L>, type: FamilyType, build: (options: FamilyOptions, state: S) => TextFamily): FamilyGenerator<S> {
  return { name: d.name, help: d.help, type, labels: d.labels, build };
}

/** Builds each generator's family, in order, reading `state`. */
export function buildFamilies<S>(generators: readonly FamilyGenerator<S>[], options: FamilyOptions, state: S): TextFamily[] {
  return generators.map((g) => g.build(options, state));
}

/** The cap of every family, counting what it refuses in a counter family by `family`. */
export function seriesLimit(maxPerFamily: number, dropped: CounterFamily<"family">): SeriesLimit {
  return { maxPerFamily, refused: (family, samples) => dropped.inc({ family }, samples) };
}
