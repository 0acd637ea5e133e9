import { describe, expect, it } from "vitest";
import { interruptionReason, type InterruptionFacts } from "../../../src/domain/interruption.js";

const running: InterruptionFacts = { nodeReason: null, disruption: null, phase: "Running", statusReason: "" };

describe("interruptionReason", () => {
  it("is null for a pod deleted on a node that stays", () => {
    expect(interruptionReason(running)).toBeNull();
  });

  it("names the node's reason when the node was going", () => {
    expect(interruptionReason({ ...running, nodeReason: "spot_interruption" })).toBe("spot_interruption");
    expect(interruptionReason({ ...running, nodeReason: "autoscaler_scale_down", disruption: "EvictionByEvictionAPI" })).toBe("autoscaler_scale_down");
  });

  it.each([
    ["EvictionByEvictionAPI", "eviction"],
    ["PreemptionByScheduler", "scheduler_preemption"],
    ["DeletionByTaintManager", "taint_eviction"],
    ["DeletionByPodGC", "pod_gc"],
    ["TerminationByKubelet", "kubelet_termination"],
    ["SomethingNew", "disruption"],
    ["", "disruption"],
  ])("derives %s from the pod's DisruptionTarget condition as %s", (condition, reason) => {
    expect(interruptionReason({ ...running, disruption: condition })).toBe(reason);
    // A node gone without any sign ("unknown") says less than the pod's own condition.
    expect(interruptionReason({ ...running, nodeReason: "unknown", disruption: condition })).toBe(reason);
  });

  it("takes a pod failed by node shutdown as node_shutdown", () => {
    expect(interruptionReason({ ...running, phase: "Failed", statusReason: "NodeShutdown" })).toBe("node_shutdown");
  });

  it("counts a pod whose node vanished without a sign as unknown", () => {
    expect(interruptionReason({ ...running, nodeReason: "unknown" })).toBe("unknown");
  });

  it("never counts a pod that succeeded", () => {
    expect(interruptionReason({ ...running, phase: "Succeeded", nodeReason: "spot_interruption", disruption: "DeletionByPodGC" })).toBeNull();
  });
});
