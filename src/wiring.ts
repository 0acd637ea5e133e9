import { buildExposition, DEFAULT_MAX_SERIES_PER_FAMILY, type ExpositionOptions, type MetricsState } from "./metrics/index.js";
import type { PriceTable } from "./domain/cost.js";
import type { Exposition } from "./metrics/exposition/renderer.js";
import { CostLedger } from "./state/cost.js";
import { JobLinks } from "./state/job-links.js";
import { JobStore } from "./state/jobs.js";
import { NodeStore } from "./state/nodes.js";
import { PipelineStore } from "./state/pipelines.js";
import { JobPodStarts } from "./state/pod-starts.js";
import { PodStore } from "./state/pods.js";
import { ProjectRegistry } from "./state/projects.js";
import { SelfHealth } from "./state/self-health.js";

/**
 * State and families, built in the one order they depend on: state first (it knows nothing of
 * metrics), then the families that subscribe to it. The exporter, the README's reference and the
 * tests all build the house through here.
 */
export interface HouseOptions extends ExpositionOptions {
  /** Unix ms from which finishes count (the exporter's start); every finish counts when absent. */
  readonly countFinishedSinceMs?: number;
  /** Whether the Kubernetes side runs: node, pod and link state, and their families. */
  readonly kubernetes?: boolean;
  /** `KUBE_INTERRUPTION_SETTLE_SECONDS`, in ms. */
  readonly interruptionSettleMs?: number;
  /** `KUBE_NODE_PRICES_FILE`, read: the cost families count with it. */
  readonly prices?: PriceTable | null;
  /** `KUBE_COST_COUNTERS`, resolved: whether the cost state and families exist; true when absent. */
  readonly costCounters?: boolean;
}

export interface House {
  readonly state: MetricsState;
  readonly exposition: Exposition;
}

export function buildState(options: HouseOptions = {}): MetricsState {
  const labelValueMaxBytes = options.labelValueMaxBytes;
  const jobs = new JobStore({
    ...(options.countFinishedSinceMs === undefined ? {} : { countFinishedSinceMs: options.countFinishedSinceMs }),
    ...(labelValueMaxBytes === undefined ? {} : { labelValueMaxBytes }),
  });
  const health = new SelfHealth();
  let kube: MetricsState["kube"] = null;
  if (options.kubernetes !== false) {
    // The GitLab and Kubernetes sides meet by job id: pipelines for the pods' series, and the
    // outcome of builds run in job pods, which only the job's end tells.
    const links = new JobLinks(jobs);
    const nodes = new NodeStore();
    const pods = new PodStore(nodes, { links, settleMs: options.interruptionSettleMs ?? 0 });
    // The spot node families exist exactly when nodes are watched.
    const starts = new JobPodStarts(pods, nodes, { nodesWatched: options.spotNodes !== false });
    // A pod a re-list finds gone ended unseen, at the latest when the pods were last heard of.
    const cost =
      options.costCounters === false
        ? null
        : new CostLedger(pods, nodes, {
            prices: options.prices ?? null,
            nodesWatched: options.spotNodes !== false,
            podsHeardAtMs: () => health.lastEventMs.get("pods"),
            maxLabelSets: options.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY,
          });
    kube = { nodes, pods, links, starts, cost };
  }
  const pipelines = new PipelineStore(options.countFinishedSinceMs === undefined ? {} : { countFinishedSinceMs: options.countFinishedSinceMs });
  return { health, jobs, pipelines, projects: new ProjectRegistry(), kube };
}

export function buildHouse(options: HouseOptions = {}): House {
  const state = buildState(options);
  return { state, exposition: buildExposition(state, options) };
}
