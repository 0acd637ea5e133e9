import type { NodeSnapshot } from "../../domain/pod.js";
import type { NodeStore } from "../../state/nodes.js";
import type { Labels } from "../exposition/family.js";
import type { ObjectGaugeFamily } from "../exposition/object-gauge.js";
import { histogram, objectGauge, type FamilyGenerator } from "../exposition/generator.js";

/** Seconds; from a node reclaimed minutes after launch to one that lived two days. */
export const SPOT_NODE_LIFETIME_BUCKETS = [300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800];

type SpotGroupLabel = "instance_type" | "zone" | "nodegroup";

export interface SpotNodeState {
  readonly nodes: NodeStore;
}

/**
 * The spot node families, rendered when the node state reports a spot node appearing, changing
 * or going away; each node's series leave with it.
 */
export const SPOT_NODE_FAMILIES: readonly FamilyGenerator<SpotNodeState>[] = [
  objectGauge({
    name: "gitlab_ci_spot_nodes",
    help: "Spot (preemptible) nodes now, by instance type, zone and node group.",
    labels: ["instance_type", "zone", "nodegroup"],
    connect: ({ nodes }, family) => {
      const counts = new GroupCounts(family);
      nodes.onSpotNodeChanged.add(({ previous, next }) => {
        if (previous) counts.add(spotGroup(previous), -1);
        if (next) counts.add(spotGroup(next), +1);
      });
    },
  }),
  objectGauge({
    name: "gitlab_ci_spot_node_created_timestamp_seconds",
    help: "Unix time at which each live spot node was created.",
    labels: ["node", "instance_type", "zone", "nodegroup"],
    connect: ({ nodes }, family) =>
      nodes.onSpotNodeChanged.add(({ previous, next }) => {
        if (previous) family.delete(previous.name);
        if (next && next.createdAtMs !== null) family.set(next.name, [[{ node: next.name, ...spotGroup(next) }, next.createdAtMs / 1000]]);
      }),
  }),
  histogram({
    name: "gitlab_ci_spot_node_lifetime_seconds",
    help: "Lifetime of each spot node that went away (deletion minus creation), observed once, with the strongest sign seen of why it went.",
    labels: ["instance_type", "zone", "nodegroup", "reason"],
    buckets: SPOT_NODE_LIFETIME_BUCKETS,
    connect: ({ nodes }, family) => nodes.onSpotNodeRemoved.add(({ node, reason, lifetimeSeconds }) => family.observe({ ...spotGroup(node), reason }, lifetimeSeconds)),
  }),
];

/** Spot nodes per instance type, zone and node group, each group one object of the family. */
class GroupCounts {
  private readonly counts = new Map<string, number>();

  constructor(private readonly family: ObjectGaugeFamily<SpotGroupLabel>) {}

  add(labels: Labels<SpotGroupLabel>, delta: 1 | -1): void {
    const key = `${labels.instance_type}\u0000${labels.zone}\u0000${labels.nodegroup}`;
    const count = (this.counts.get(key) ?? 0) + delta;
    if (count <= 0) {
      this.counts.delete(key);
      this.family.delete(key);
    } else {
      this.counts.set(key, count);
      this.family.set(key, [[labels, count]]);
    }
  }
}

function spotGroup(node: NodeSnapshot): Labels<SpotGroupLabel> {
  return { instance_type: node.instanceType, zone: node.zone, nodegroup: node.nodegroup };
}
