import type { FamilyGenerator } from "../../src/metrics/exposition/generator.js";
import { buildFamilies, seriesLimit } from "../../src/metrics/exposition/generator.js";
import { CounterFamily } from "../../src/metrics/exposition/series.js";
import { parseMetrics, type Sample } from "./prom.js";

/**
 * One group of families built on the given state, as the exporter builds it, and a reader of its
 * samples (and of what its cap dropped): for the tests of `src/metrics/families/*`.
 */
export function familiesOf<S>(generators: readonly FamilyGenerator<S>[], state: S, maxPerFamily = 1000) {
  const dropped = new CounterFamily("dropped_total", "Dropped.", ["family"]);
  const families = buildFamilies(generators, { limit: seriesLimit(maxPerFamily, dropped), labelValueMaxBytes: 256 }, state);
  const samples = (): Sample[] => parseMetrics(families.map((f) => f.render()).join(""));
  /** One family's samples as [labels, value], in exposition order. */
  const series = (name: string) => samples().filter((s) => s.name === name).map((s) => [s.labels, s.value] as const);
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples().find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  return { families, samples, series, value, text: () => families.map((f) => f.render()).join(""), dropped: () => parseMetrics(dropped.render()) };
}
