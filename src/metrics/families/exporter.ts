import type { SelfHealth } from "../../state/self-health.js";
import { CounterFamily } from "../exposition/series.js";
import { scrapeCounter, type FamilyGenerator } from "../exposition/generator.js";

export interface ExporterState {
  readonly health: SelfHealth;
}

/** Exporter-wide families: what every source refused. */
export const EXPORTER_FAMILIES: readonly FamilyGenerator<ExporterState>[] = [
  scrapeCounter({
    name: "gitlab_ci_exporter_invalid_objects_total",
    help: "Input refused or cut back to what is plausible: list entries failing their schema, hook fields, watch objects, GitLab Date headers; by where it came from and why.",
    labels: ["source", "reason"],
    samples: ({ health }) => health.invalidObjects.entries(),
  }),
];

/**
 * What the series cap of every family left out. Built before the others, which count into it, and
 * itself uncapped: its series are one per family.
 */
export function seriesDroppedFamily(labelValueMaxBytes?: number): CounterFamily<"family"> {
  return new CounterFamily(
    "gitlab_ci_exporter_series_dropped_total",
    "Samples not exported because their family reached MAX_SERIES_PER_FAMILY series: each refused update of a counter, histogram or object, and each label set of a scrape-time gauge once when it starts being left out.",
    ["family"],
    labelValueMaxBytes === undefined ? {} : { labelValueMaxBytes },
  );
}
