import type { HeldTotals } from "../../lib/held-totals.js";
import type { CostLedger } from "../../state/cost.js";
import { scrapeCounter, scrapeGauge, type FamilyGenerator } from "../exposition/generator.js";

export interface CostState {
  readonly cost: CostLedger;
}

/** One value of each label set of `totals`, after a reading (taken at most once a moment, for all families of a scrape). */
function read<L extends string>(ledger: CostLedger, totals: (ledger: CostLedger) => HeldTotals<L>, index = 0): Array<readonly [Readonly<Record<L, string>>, number]> {
  ledger.read();
  return [...totals(ledger).values()].map((entry) => [entry.labels, entry.values[index]!] as const);
}

const POD_GROUP = ["project", "capacity_type", "nodegroup", "instance_type"] as const;
const NODE_GROUP = ["nodegroup", "capacity_type", "instance_type"] as const;
const HOLD = "from its binding to its end (its final phase, its deletion, its node's removal), counted up to each scrape while it runs";

/**
 * What CI job pods hold of their nodes, and what that costs (README, "What CI costs"). The
 * resource-time counters need no prices; the cost counters price a pod's share of its node (its
 * requests, CPU and memory weighted by their unit prices, over the node's allocatable resources)
 * at the node's hourly price from `KUBE_NODE_PRICES_FILE`, and are empty without one. Every
 * series comes from one shard: the pods' by their project's, the nodes' by their type's.
 */
export const COST_FAMILIES: readonly FamilyGenerator<CostState>[] = [
  scrapeCounter({
    name: "gitlab_ci_job_cpu_core_seconds_total",
    help: `CPU cores CI job pods requested (all containers), times the seconds they held their node, ${HOLD}; by the node's capacity type, group and instance type.`,
    labels: POD_GROUP,
    samples: ({ cost }) => read(cost, (c) => c.resources, 0),
    leftOut: ({ cost }, count) => cost.resources.onForgotten.add(count),
  }),
  scrapeCounter({
    name: "gitlab_ci_job_memory_byte_seconds_total",
    help: `Memory bytes CI job pods requested (all containers), times the seconds they held their node, ${HOLD}.`,
    labels: POD_GROUP,
    samples: ({ cost }) => read(cost, (c) => c.resources, 1),
    leftOut: ({ cost }, count) => cost.resources.onForgotten.add(count),
  }),
  scrapeCounter({
    name: "gitlab_ci_job_cost_total",
    help: "What CI job pods cost, in the price table's currency: each pod's share of its node (its requests, CPU and memory weighted by their unit prices, over the node's allocatable resources) times the node's hourly price at its capacity type, for as long as it held the node. Pods on nodes without a price are left out (gitlab_ci_nodes_unpriced).",
    labels: ["project", "capacity_type"],
    samples: ({ cost }) => read(cost, (c) => c.cost, 0),
    leftOut: ({ cost }, count) => cost.cost.onForgotten.add(count),
  }),
  scrapeCounter({
    name: "gitlab_ci_job_on_demand_cost_total",
    help: "What the same CI job pods would have cost on on-demand nodes of the same instance types; the spot saving is this less gitlab_ci_job_cost_total.",
    labels: ["project", "capacity_type"],
    samples: ({ cost }) => read(cost, (c) => c.cost, 1),
    leftOut: ({ cost }, count) => cost.cost.onForgotten.add(count),
  }),
  scrapeCounter({
    name: "gitlab_ci_job_cost_by_ref_total",
    help: "gitlab_ci_job_cost_total by the branch or tag the jobs ran for; a ref no pod paid for in a day leaves the exposition.",
    labels: ["project", "ref"],
    samples: ({ cost }) => read(cost, (c) => c.refs),
    leftOut: ({ cost }, count) => cost.refs.onForgotten.add(count),
  }),
  scrapeCounter({
    name: "gitlab_ci_job_cost_by_job_name_total",
    help: "gitlab_ci_job_cost_total by job name; a job name no pod paid for in a day leaves the exposition.",
    labels: ["project", "job_name"],
    samples: ({ cost }) => read(cost, (c) => c.jobNames),
    leftOut: ({ cost }, count) => cost.jobNames.onForgotten.add(count),
  }),
  scrapeCounter({
    name: "gitlab_ci_node_occupied_seconds_total",
    help: "Seconds nodes held at least one CI job pod (the union of their pods' holds), by node group, capacity type and instance type. Sharded, the shard of the nodes' instance and capacity type counts them, with every CI job pod on them (whichever shard exports the pod): a sum over the replicas is exact.",
    labels: NODE_GROUP,
    samples: ({ cost }) => read(cost, (c) => c.nodes.occupied),
  }),
  scrapeCounter({
    name: "gitlab_ci_node_idle_seconds_total",
    help: "Of the node-seconds of gitlab_ci_node_occupied_seconds_total, the part no CI job pod requested (one minus the pods' shares of the node); nodes that tell no allocatable resources are left out.",
    labels: NODE_GROUP,
    samples: ({ cost }) => read(cost, (c) => c.nodes.idleSeconds),
  }),
  scrapeCounter({
    name: "gitlab_ci_node_idle_cost_total",
    help: "gitlab_ci_node_idle_seconds_total priced at each node's hourly price: the idle capacity of CI node groups, in the price table's currency.",
    labels: NODE_GROUP,
    samples: ({ cost }) => read(cost, (c) => c.nodes.idleCost),
  }),
  scrapeGauge({
    name: "gitlab_ci_nodes_unpriced",
    help: "Nodes holding CI job pods now whose instance type (or its spot price) is not in KUBE_NODE_PRICES_FILE: their pods cost nothing in the cost families. Absent without a price table.",
    labels: ["instance_type", "capacity_type"],
    samples: ({ cost }) => [...cost.nodes.unpriced().values()].map(({ labels, count }) => [labels, count] as const),
  }),
  scrapeGauge({
    name: "gitlab_ci_cost_currency_info",
    help: "Always 1, with the currency of the price table (KUBE_NODE_PRICES_FILE) every cost family counts in. Absent without a price table.",
    labels: ["currency"],
    samples: ({ cost }) => (cost.currency === null ? [] : [[{ currency: cost.currency }, 1] as const]),
  }),
];
