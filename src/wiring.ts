import { ownsNode, ownsNodeType, ownsPod, UNSHARDED, type Sharding } from "./domain/shard.js";
import { buildExposition, DEFAULT_MAX_SERIES_PER_FAMILY, type ExpositionOptions, type MetricsState } from "./metrics/index.js";
import { capacityTypeOf, type PriceTable } from "./domain/cost.js";
import type { Exposition } from "./metrics/exposition/renderer.js";
import { CostLedger } from "./state/cost.js";
import { JobLinks } from "./state/job-links.js";
import { JobStore } from "./state/jobs.js";
import { NodeOccupants } from "./state/node-occupants.js";
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
  /** This replica's shard: the pods it tracks and the nodes it exports; the whole work when absent. */
  readonly sharding?: Sharding;
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
    const sharding = options.sharding ?? UNSHARDED;
    const nodes = new NodeStore({ exports: (name) => ownsNode(sharding, name) });
    const costCounted = options.costCounters !== false;
    const nodesWatched = options.spotNodes !== false;
    // Of a shard, the node cost families count the nodes of its instance and capacity types, with
    // every job pod on them: those of other shards are kept, as occupants, for that alone.
    const countsNode = (instanceType: string, capacityType: string) => ownsNodeType(sharding, instanceType, capacityType);
    const occupants =
      costCounted && nodesWatched && sharding.total > 1
        ? new NodeOccupants((pod) => {
            const node = nodes.get(pod.nodeName);
            return node === undefined || countsNode(node.instanceType, capacityTypeOf(node));
          })
        : undefined;
    const pods = new PodStore(nodes, { links, settleMs: options.interruptionSettleMs ?? 0, owns: (pod) => ownsPod(sharding, pod), ...(occupants ? { occupants } : {}) });
    // The spot node families exist exactly when nodes are watched.
    const starts = new JobPodStarts(pods, nodes, { nodesWatched });
    // A pod a re-list finds gone ended unseen, at the latest when the pods were last heard of.
    const cost = !costCounted
      ? null
      : new CostLedger(pods, nodes, {
          prices: options.prices ?? null,
          nodesWatched,
          podsHeardAtMs: () => health.lastEventMs.get("pods"),
          maxLabelSets: options.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY,
          countsNode: (labels) => countsNode(labels.instance_type, labels.capacity_type),
          ...(occupants ? { occupants } : {}),
          // A standby counts from its takeover: the gate holds back the holds that end meanwhile.
          ...(options.gate ? { gate: options.gate } : {}),
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
