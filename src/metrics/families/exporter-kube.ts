import type { SelfHealth } from "../../state/self-health.js";
import { scrapeCounter, scrapeGauge, type FamilyGenerator } from "../exposition/generator.js";

export interface ExporterKubeState {
  readonly health: SelfHealth;
}

/** The exporter's view of its Kubernetes watches. */
export const EXPORTER_KUBE_FAMILIES: readonly FamilyGenerator<ExporterKubeState>[] = [
  scrapeCounter({
    name: "gitlab_ci_exporter_kube_watch_restarts_total",
    help: "Kubernetes list/watch restarts after an error, a dropped or stalled stream, or an expired resourceVersion.",
    labels: ["resource"],
    samples: ({ health }) => [...health.watchRestarts].map(([resource, restarts]) => [{ resource }, restarts] as const),
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_kube_last_event_timestamp_seconds",
    help: "Unix time of the last Kubernetes watch event (bookmarks included) or successful list, the exporter's start before any; with one watch per namespace (KUBE_NAMESPACES), the oldest among them.",
    labels: ["resource"],
    samples: ({ health }) => [...health.lastEventMs].map(([resource, atMs]) => [{ resource }, atMs / 1000] as const),
  }),
];
