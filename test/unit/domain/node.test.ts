import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  DEFAULT_NODEGROUP_KEYS,
  DEFAULT_SPOT_SELECTORS,
  evidenceFromPodFailure,
  evidenceFromTaints,
  inferRemovalReason,
  instanceTypeOf,
  isSpotNode,
  nodeGroupOf,
  stronger,
  zoneOf,
} from "../../../src/domain/node.js";

const eksSpot = parse(readFileSync(new URL("../../fixtures/kubernetes/node-eks-spot.yaml", import.meta.url), "utf8")) as { metadata: { labels: Record<string, string> } };

describe("spot nodes", () => {
  it("recognises the EKS reference node and describes it", () => {
    const labels = eksSpot.metadata.labels;
    expect(isSpotNode(labels, DEFAULT_SPOT_SELECTORS)).toBe(true);
    expect(nodeGroupOf(labels, DEFAULT_NODEGROUP_KEYS)).toBe("ci-spot");
    expect(instanceTypeOf(labels)).toBe("m5.2xlarge");
    expect(zoneOf(labels)).toBe("us-west-2b");
  });

  it.each([
    ["eks", { "eks.amazonaws.com/capacityType": "SPOT", "eks.amazonaws.com/nodegroup": "ng" }, "ng"],
    ["karpenter", { "karpenter.sh/capacity-type": "spot", "karpenter.sh/nodepool": "pool" }, "pool"],
    ["gke spot", { "cloud.google.com/gke-spot": "true", "cloud.google.com/gke-nodepool": "gp" }, "gp"],
    ["gke preemptible", { "cloud.google.com/gke-preemptible": "true", "cloud.google.com/gke-nodepool": "pre" }, "pre"],
    ["azure", { "kubernetes.azure.com/scalesetpriority": "spot", "kubernetes.azure.com/agentpool": "spotpool" }, "spotpool"],
    ["kops lifecycle", { "node.kubernetes.io/lifecycle": "spot", "kops.k8s.io/instancegroup": "nodes-spot" }, "nodes-spot"],
  ])("recognises %s", (_provider, labels, group) => {
    expect(isSpotNode(labels, DEFAULT_SPOT_SELECTORS)).toBe(true);
    expect(nodeGroupOf(labels, DEFAULT_NODEGROUP_KEYS)).toBe(group);
  });

  it.each<Record<string, string>>([
    { "eks.amazonaws.com/capacityType": "ON_DEMAND" },
    { "karpenter.sh/capacity-type": "on-demand" },
    { "cloud.google.com/gke-spot": "false" },
    { "node.kubernetes.io/lifecycle": "normal" },
    {},
  ])("does not take %j for spot", (labels) => {
    expect(isSpotNode(labels, DEFAULT_SPOT_SELECTORS)).toBe(false);
  });

  it("falls back to the deprecated instance type and zone labels", () => {
    const labels = { "beta.kubernetes.io/instance-type": "n2-standard-4", "failure-domain.beta.kubernetes.io/zone": "europe-west1-b" };
    expect(instanceTypeOf(labels)).toBe("n2-standard-4");
    expect(zoneOf(labels)).toBe("europe-west1-b");
    expect(instanceTypeOf(undefined)).toBe("");
  });
});

describe("why a node went away", () => {
  it.each([
    ["ToBeDeletedByClusterAutoscaler", "autoscaler_scale_down"],
    ["aws-node-termination-handler/spot-itn", "spot_interruption"],
    ["aws-node-termination-handler/rebalance-recommendation", "rebalance_recommendation"],
    ["karpenter.sh/disrupted", "karpenter_disruption"],
    ["cloud.google.com/impending-node-termination", "node_shutdown"],
  ])("taint %s means %s", (key, reason) => {
    expect(evidenceFromTaints([{ key }])).toBe(reason);
    expect(inferRemovalReason([evidenceFromTaints([{ key: "node.kubernetes.io/unschedulable" }, { key }])])).toBe(reason);
  });

  it("ignores unrelated taints", () => {
    expect(evidenceFromTaints([{ key: "node.kubernetes.io/unschedulable" }, { key: "dedicated" }])).toBeNull();
    expect(evidenceFromTaints(undefined)).toBeNull();
  });

  it("takes pods failed by graceful node shutdown as a shutdown sign", () => {
    expect(evidenceFromPodFailure("Failed", "NodeShutdown")).toBe("node_shutdown");
    expect(evidenceFromPodFailure("Failed", "Terminated")).toBe("node_shutdown");
    expect(evidenceFromPodFailure("Failed", "Evicted")).toBeNull();
    expect(evidenceFromPodFailure("Running", "NodeShutdown")).toBeNull();
  });

  it("keeps the strongest sign: interruption over rebalance over provisioner decisions", () => {
    expect(evidenceFromTaints([{ key: "aws-node-termination-handler/rebalance-recommendation" }, { key: "aws-node-termination-handler/spot-itn" }])).toBe("spot_interruption");
    expect(inferRemovalReason(["autoscaler_scale_down", "rebalance_recommendation", null])).toBe("rebalance_recommendation");
    expect(inferRemovalReason(["karpenter_disruption", "node_shutdown"])).toBe("node_shutdown");
    expect(stronger("autoscaler_scale_down", "karpenter_disruption")).toBe("karpenter_disruption");
    expect(stronger(null, "unknown")).toBe("unknown");
  });

  it("is unknown without any sign", () => {
    expect(inferRemovalReason([])).toBe("unknown");
    expect(inferRemovalReason([null, null])).toBe("unknown");
  });
});
