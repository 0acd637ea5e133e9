import { describe, expect, it } from "vitest";
import type { NodeSnapshot } from "../../../../src/domain/pod.js";
import { SPOT_NODE_FAMILIES } from "../../../../src/metrics/families/spot-nodes.js";
import { NodeStore } from "../../../../src/state/nodes.js";
import { familiesOf } from "../../../helpers/families.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");

function node(name: string, overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0, deletingSinceMs: null, spot: true, instanceType: "m5.large", zone: "a", nodegroup: "ci", evidence: null, readySinceMs: null, ...overrides };
}

function setup() {
  const nodes = new NodeStore();
  return { nodes, ...familiesOf(SPOT_NODE_FAMILIES, { nodes }) };
}

describe("spot node families", () => {
  it("count spot nodes per instance type, zone and node group, following a node that changes group", () => {
    const { nodes, series } = setup();
    nodes.upsert(node("s1"), T0);
    nodes.upsert(node("s2"), T0);
    nodes.upsert(node("s3", { zone: "b" }), T0);
    nodes.upsert(node("od1", { spot: false }), T0);
    nodes.upsert(node("s2"), T0);
    expect(series("gitlab_ci_spot_nodes")).toEqual([
      [{ instance_type: "m5.large", zone: "a", nodegroup: "ci" }, 2],
      [{ instance_type: "m5.large", zone: "b", nodegroup: "ci" }, 1],
    ]);
    nodes.upsert(node("s2", { zone: "b" }), T0);
    expect(series("gitlab_ci_spot_nodes").map(([labels, n]) => [labels.zone, n])).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
  });

  it("tell each live spot node's creation time, and drop it with the node", () => {
    const { nodes, series } = setup();
    nodes.upsert(node("s1", { createdAtMs: T0 - 3_600_000 }), T0);
    nodes.upsert(node("s2", { createdAtMs: null }), T0);
    expect(series("gitlab_ci_spot_node_created_timestamp_seconds")).toEqual([[{ node: "s1", instance_type: "m5.large", zone: "a", nodegroup: "ci" }, (T0 - 3_600_000) / 1000]]);
    nodes.remove(node("s1"), T0);
    expect(series("gitlab_ci_spot_node_created_timestamp_seconds")).toEqual([]);
  });

  it("observe each removed spot node's lifetime once, with the sign it showed, and forget its group when empty", () => {
    const { nodes, value, series } = setup();
    nodes.upsert(node("s1"), T0);
    nodes.upsert(node("s1", { evidence: "spot_interruption" }), T0 + 7_000_000);
    nodes.remove(node("s1", { evidence: "spot_interruption", deletingSinceMs: T0 + 7_200_000 }), T0 + 7_300_000);
    nodes.remove(node("s1"), T0 + 7_400_000);
    expect(value("gitlab_ci_spot_node_lifetime_seconds_count", { reason: "spot_interruption", zone: "a" })).toBe(1);
    expect(value("gitlab_ci_spot_node_lifetime_seconds_sum")).toBe(7200);
    expect(value("gitlab_ci_spot_node_lifetime_seconds_bucket", { le: "7200" })).toBe(1);
    expect(value("gitlab_ci_spot_node_lifetime_seconds_bucket", { le: "3600" })).toBe(0);
    expect(series("gitlab_ci_spot_nodes")).toEqual([]);
  });
});
