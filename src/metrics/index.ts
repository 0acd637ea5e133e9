import type { CostLedger } from "../state/cost.js";
import type { JobLinks } from "../state/job-links.js";
import type { JobStore } from "../state/jobs.js";
import type { NodeStore } from "../state/nodes.js";
import type { PipelineStore } from "../state/pipelines.js";
import type { JobPodStarts } from "../state/pod-starts.js";
import type { PodStore } from "../state/pods.js";
import type { ProjectRegistry } from "../state/projects.js";
import type { SelfHealth } from "../state/self-health.js";
import type { CountingGate } from "../lib/counting-gate.js";
import type { FamilyOptions, TextFamily } from "./exposition/family.js";
import { buildFamilies, seriesLimit } from "./exposition/generator.js";
import { processMetrics } from "./exposition/process.js";
import { Exposition } from "./exposition/renderer.js";
import { COST_FAMILIES } from "./families/cost.js";
import { EXPORTER_FAMILIES, seriesDroppedFamily } from "./families/exporter.js";
import { EXPORTER_GITLAB_FAMILIES, EXPORTER_GITLAB_POLL_FAMILIES } from "./families/exporter-gitlab.js";
import { EXPORTER_SHARD_FAMILIES } from "./families/exporter-shard.js";
import { EXPORTER_KUBE_FAMILIES } from "./families/exporter-kube.js";
import { GITLAB_JOB_FAMILIES } from "./families/gitlab-jobs.js";
import { IMAGE_BUILD_FAMILIES } from "./families/image-builds.js";
import { JOB_POD_FAMILIES, JOB_POD_RESOURCE_FAMILIES } from "./families/job-pods.js";
import { SPOT_NODE_FAMILIES } from "./families/spot-nodes.js";

export const DEFAULT_MAX_SERIES_PER_FAMILY = 50_000;

/** The state every family reads; the Kubernetes part only when the Kubernetes side runs. */
export interface MetricsState {
  readonly health: SelfHealth;
  readonly jobs: JobStore;
  readonly pipelines: PipelineStore;
  readonly projects: ProjectRegistry;
  readonly kube: { readonly nodes: NodeStore; readonly pods: PodStore; readonly links: JobLinks; readonly starts: JobPodStarts; readonly cost: CostLedger | null } | null;
}

export interface ExpositionOptions {
  readonly maxSeriesPerFamily?: number;
  readonly labelValueMaxBytes?: number;
  /** Whether the spot node families exist (nodes are watched); true when absent. */
  readonly spotNodes?: boolean;
  /** Whether the job pods' requests and limits are exported (`KUBE_EXPORT_POD_RESOURCES`); false when absent. */
  readonly podResources?: boolean;
  /** Whether the process metrics head the exposition; true when absent. */
  readonly processMetrics?: boolean;
  /**
   * While true, this replica stands by: the shard's series (jobs, job pods, builds, spot nodes,
   * the poller's view) are left out, and the counts of its counters and histograms held back by
   * `gate` until it takes over. Never when absent.
   */
  readonly standby?: () => boolean;
  readonly gate?: CountingGate;
}

/**
 * Every family of the exporter, built on the state it reads: the one place that lists them, in
 * exposition order. `/metrics` and the README's reference both read it.
 */
export function buildExposition(state: MetricsState, options: ExpositionOptions = {}): Exposition {
  const labelValueMaxBytes = options.labelValueMaxBytes;
  const dropped = seriesDroppedFamily(labelValueMaxBytes);
  const familyOptions: FamilyOptions = {
    ...(labelValueMaxBytes === undefined ? {} : { labelValueMaxBytes }),
    limit: seriesLimit(options.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY, dropped),
  };
  const { health, kube } = state;
  const shardOptions: FamilyOptions = { ...familyOptions, ...(options.gate ? { gate: options.gate } : {}) };
  const shardFamilies = new Set<TextFamily>();
  const ofShard = (built: TextFamily[]) => {
    for (const family of built) shardFamilies.add(family);
    return built;
  };
  const families: TextFamily[] = [
    ...buildFamilies(EXPORTER_GITLAB_FAMILIES, familyOptions, { health }),
    ...ofShard(buildFamilies(EXPORTER_GITLAB_POLL_FAMILIES, familyOptions, { health })),
    ...buildFamilies(EXPORTER_FAMILIES, familyOptions, { health }),
    ...buildFamilies(EXPORTER_SHARD_FAMILIES, familyOptions, { health }),
    ...ofShard(buildFamilies(GITLAB_JOB_FAMILIES, shardOptions, state)),
  ];
  if (kube) {
    families.push(
      ...ofShard(buildFamilies(JOB_POD_FAMILIES, shardOptions, kube)),
      ...ofShard(options.podResources === true ? buildFamilies(JOB_POD_RESOURCE_FAMILIES, shardOptions, kube) : []),
      ...ofShard(buildFamilies(IMAGE_BUILD_FAMILIES, shardOptions, { builds: [kube.pods, kube.links] })),
      ...ofShard(options.spotNodes === false ? [] : buildFamilies(SPOT_NODE_FAMILIES, shardOptions, kube)),
      ...ofShard(kube.cost ? buildFamilies(COST_FAMILIES, familyOptions, { cost: kube.cost }) : []),
      ...buildFamilies(EXPORTER_KUBE_FAMILIES, familyOptions, { health }),
    );
  }
  // Last: scrape-time families that leave series out in a scrape count them in the same scrape.
  families.push(dropped);
  const standby = options.standby;
  return new Exposition(families, options.processMetrics === false ? undefined : processMetrics(), standby ? { families: shardFamilies, when: standby } : undefined);
}
