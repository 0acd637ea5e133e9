import type { SelfHealth } from "../../state/self-health.js";
import { scrapeCounter, scrapeGauge, type FamilyGenerator } from "../exposition/generator.js";

export interface ExporterShardState {
  readonly health: SelfHealth;
}

/** Which part of the work this replica does, and what it forwarded to the replicas doing the rest. */
export const EXPORTER_SHARD_FAMILIES: readonly FamilyGenerator<ExporterShardState>[] = [
  scrapeGauge({
    name: "gitlab_ci_exporter_shard",
    help: "Always 1: the shard this replica works for, of how many (SHARD, TOTAL_SHARDS); join on the target's labels to sum or compare per shard.",
    labels: ["shard", "total_shards"],
    samples: ({ health }) => [[{ shard: String(health.replica.shard), total_shards: String(health.replica.totalShards) }, 1]],
  }),
  scrapeGauge({
    name: "gitlab_ci_exporter_active",
    help: "1 when this replica polls GitLab and exports its shard's series, 0 while it stands by (SHARD_REPLICAS above 1, another replica holding the shard's Lease): a standby exports only the exporter's own families.",
    labels: [],
    samples: ({ health }) => [[{}, health.replica.active ? 1 : 0]],
  }),
  scrapeCounter({
    name: "gitlab_ci_exporter_webhook_forwards_total",
    help: "Webhook deliveries for another shard's project (or received by a standby) sent on to the replica that applies them: delivered (at once, or after being held while the shard did not answer), or failed (never taken: left to polling, or applied by this standby itself).",
    labels: ["outcome"],
    samples: ({ health }) => [...health.webhookForwards].map(([outcome, count]) => [{ outcome }, count] as const),
  }),
];
