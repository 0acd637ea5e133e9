import { describe, expect, it } from "vitest";
import { startupOf, waitingReason, type NodeSnapshot } from "../../../src/domain/pod.js";
import { jobPod, started, waiting } from "../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");

function node(overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name: "n1", uid: "uid-n1", createdAtMs: T0 - 3_600_000, deletingSinceMs: null, spot: true, instanceType: "m6i.2xlarge", zone: "us-west-2b", nodegroup: "ci-spot", evidence: null, readySinceMs: null, ...overrides };
}

describe("waitingReason", () => {
  it("tells a pod the scheduler found no node for from one it has not decided on yet", () => {
    expect(waitingReason(jobPod("p", { nodeName: "", phase: "Pending", start: waiting({ unschedulable: true }) }))).toBe("unschedulable");
    expect(waitingReason(jobPod("p", { nodeName: "", phase: "Pending", start: waiting() }))).toBe("scheduling");
  });

  it("reads a scheduled pod's containers: an image that cannot be pulled first, then any other reason, else creating", () => {
    const on = (...waitingReasons: string[]) => waitingReason(jobPod("p", { phase: "Pending", start: waiting({ waitingReasons }) }));
    expect(on("ContainerCreating", "ContainerCreating")).toBe("container_creating");
    expect(on("PodInitializing", "PodInitializing")).toBe("container_creating");
    // Scheduled, the kubelet has not reported any container yet.
    expect(on()).toBe("container_creating");
    expect(on("")).toBe("container_creating");
    expect(on("ContainerCreating", "ErrImagePull")).toBe("image_pull");
    expect(on("ImagePullBackOff", "CreateContainerConfigError")).toBe("image_pull");
    expect(on("PodInitializing", "CreateContainerConfigError")).toBe("other");
    expect(on("CreateContainerError")).toBe("other");
  });

  it("is null once every container started, for pods that ended or are being deleted, and for pods that are not job pods", () => {
    expect(waitingReason(jobPod("p"))).toBeNull();
    expect(waitingReason(jobPod("p", { start: started({ waitingReasons: ["CrashLoopBackOff"] }) }))).toBeNull();
    expect(waitingReason(jobPod("p", { phase: "Failed", start: waiting({ waitingReasons: ["ImagePullBackOff"] }) }))).toBeNull();
    expect(waitingReason(jobPod("p", { phase: "Pending", deletionRequestedAtMs: T0, start: waiting({ waitingReasons: ["ImagePullBackOff"] }) }))).toBeNull();
    expect(waitingReason(jobPod("p", { job: null, phase: "Pending", start: waiting() }))).toBeNull();
    expect(waitingReason(jobPod("p", { phase: "Pending", start: null }))).toBeNull();
  });
});

describe("startupOf", () => {
  const startedPod = (createdAtMs: number | null) => jobPod("p", { start: started({ createdAtMs, startupSeconds: 95, schedulingSeconds: 80 }) });

  it("labels a start on a node that existed before the pod as a warm one", () => {
    expect(startupOf(startedPod(T0), node())).toEqual({ nodegroup: "ci-spot", capacityType: "spot", newNode: "false", startupSeconds: 95, schedulingSeconds: 80 });
  });

  it("labels a start on a node created after the pod as a new one, on demand or spot", () => {
    expect(startupOf(startedPod(T0), node({ createdAtMs: T0 + 1, spot: false, nodegroup: "ci-ondemand" }))).toMatchObject({ nodegroup: "ci-ondemand", capacityType: "on_demand", newNode: "true" });
    // Created in the same millisecond: not after.
    expect(startupOf(startedPod(T0), node({ createdAtMs: T0 }))?.newNode).toBe("false");
  });

  it("leaves what it cannot know empty: an unknown node, or a creation time missing on either side", () => {
    expect(startupOf(startedPod(T0), undefined)).toEqual({ nodegroup: "", capacityType: "", newNode: "", startupSeconds: 95, schedulingSeconds: 80 });
    expect(startupOf(startedPod(null), node())?.newNode).toBe("");
    expect(startupOf(startedPod(T0), node({ createdAtMs: null }))?.newNode).toBe("");
  });

  it("is null until the build container started", () => {
    expect(startupOf(jobPod("p", { start: waiting({ createdAtMs: T0 }) }), node())).toBeNull();
    expect(startupOf(jobPod("p", { start: null }), node())).toBeNull();
  });
});
