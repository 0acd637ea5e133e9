import { describe, expect, it } from "vitest";
import type { JobPodStarted } from "../../../src/domain/events.js";
import type { NodeSnapshot, PodSnapshot } from "../../../src/domain/pod.js";
import { NodeStore } from "../../../src/state/nodes.js";
import { JobPodStarts } from "../../../src/state/pod-starts.js";
import { PodStore } from "../../../src/state/pods.js";
import { jobPod, started, waiting } from "../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const live = { nowMs: T0 + 600_000, observeEndedBuilds: true };
const firstList = { ...live, observeEndedBuilds: false };

function node(name: string, createdAtMs: number): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs, deletingSinceMs: null, spot: true, instanceType: "m6i.2xlarge", zone: "us-west-2b", nodegroup: "ci-spot", evidence: null, readySinceMs: null };
}

function setup(nodesWatched = true) {
  const nodes = new NodeStore();
  const pods = new PodStore(nodes);
  const starts = new JobPodStarts(pods, nodes, { nodesWatched });
  const observed: JobPodStarted[] = [];
  starts.onStarted.add((s) => observed.push(s));
  const reasons = () => [...starts.waitingGroups()].map((g) => `${g.project} ${g.reason} ${g.count}`).sort();
  return { nodes, pods, starts, observed, reasons };
}

/** A job pod created at T0 on `nodeName`, its build container running `seconds` later. */
function startedPod(name: string, nodeName: string, seconds: number): PodSnapshot {
  return jobPod(name, { nodeName, start: started({ createdAtMs: T0, startupSeconds: seconds, schedulingSeconds: seconds / 2 }) });
}

describe("job pod starts", () => {
  it("observe a start once, however often the pod is seen, and again for a new pod of the same name", () => {
    const { nodes, pods, observed } = setup();
    nodes.upsert(node("n1", T0 - 60_000), T0);
    pods.upsert(jobPod("p", { phase: "Pending", start: waiting({ createdAtMs: T0, waitingReasons: ["ContainerCreating"] }) }), live);
    expect(observed).toEqual([]);
    for (let i = 0; i < 3; i++) pods.upsert(startedPod("p", "n1", 12), live);
    pods.replace(null, [startedPod("p", "n1", 12)], live);
    expect(observed).toEqual([{ nodegroup: "ci-spot", capacityType: "spot", newNode: "false", startupSeconds: 12, schedulingSeconds: 6 }]);
    pods.remove(startedPod("p", "n1", 12), live.nowMs);
    pods.upsert({ ...startedPod("p", "n1", 7), uid: "uid-p-again" }, live);
    expect(observed.map((s) => s.startupSeconds)).toEqual([12, 7]);
  });

  it("leave out starts the first list shows, observe later ones, and a start found by a re-list after an outage once", () => {
    const { nodes, pods, observed } = setup();
    nodes.upsert(node("n1", T0 - 60_000), T0);
    pods.replace(null, [startedPod("before", "n1", 30), jobPod("waits", { phase: "Pending", start: waiting({ createdAtMs: T0 }) })], firstList);
    expect(observed).toEqual([]);
    pods.upsert(startedPod("waits", "n1", 45), live);
    // The watch was down while `quick` was created and started; the re-list finds it.
    pods.replace(null, [startedPod("before", "n1", 30), startedPod("waits", "n1", 45), startedPod("quick", "n1", 3)], live);
    pods.replace(null, [startedPod("before", "n1", 30), startedPod("waits", "n1", 45), startedPod("quick", "n1", 3)], live);
    expect(observed.map((s) => s.startupSeconds)).toEqual([45, 3]);
  });

  it("wait for a node that is not known yet, and take a node created after the pod for a new one", () => {
    const { nodes, pods, starts, observed } = setup();
    pods.upsert(startedPod("p", "fresh", 140), live);
    expect([observed, starts.unplacedCount]).toEqual([[], 1]);
    nodes.upsert(node("fresh", T0 + 75_000), live.nowMs);
    expect(observed).toEqual([{ nodegroup: "ci-spot", capacityType: "spot", newNode: "true", startupSeconds: 140, schedulingSeconds: 70 }]);
    expect(starts.unplacedCount).toBe(0);
    nodes.upsert(node("fresh", T0 + 75_000), live.nowMs);
    expect(observed).toHaveLength(1);
  });

  it("observe a start whose node never came when the pod goes, its node unknown; without the node watch at once", () => {
    const watched = setup();
    watched.pods.upsert(startedPod("p", "gone-node", 20), live);
    watched.pods.remove(startedPod("p", "gone-node", 20), live.nowMs);
    expect(watched.observed).toEqual([{ nodegroup: "", capacityType: "", newNode: "", startupSeconds: 20, schedulingSeconds: 10 }]);
    const unwatched = setup(false);
    unwatched.pods.upsert(startedPod("p", "n1", 20), live);
    expect(unwatched.observed).toHaveLength(1);
  });

  it("keep each waiting pod in one group at a time, and let it go when it runs, goes, or a re-list misses it", () => {
    const { pods, starts, reasons } = setup();
    const pending = (name: string, start: PodSnapshot["start"], nodeName = "n1") => jobPod(name, { nodeName, phase: "Pending", start });
    pods.upsert(pending("a", waiting({ createdAtMs: T0 }), ""), live);
    pods.upsert(pending("b", waiting({ createdAtMs: T0, unschedulable: true }), ""), live);
    pods.upsert(pending("c", waiting({ createdAtMs: T0, waitingReasons: ["ErrImagePull"] })), live);
    expect(reasons()).toEqual(["acme/api image_pull 1", "acme/api scheduling 1", "acme/api unschedulable 1"]);
    pods.upsert(pending("a", waiting({ createdAtMs: T0, unschedulable: true }), ""), live);
    pods.upsert(pending("c", waiting({ createdAtMs: T0, waitingReasons: ["ImagePullBackOff"] })), live);
    expect(reasons()).toEqual(["acme/api image_pull 1", "acme/api unschedulable 2"]);
    pods.upsert(startedPod("c", "n1", 300), live);
    pods.remove(pending("a", null, ""), live.nowMs);
    expect(reasons()).toEqual(["acme/api unschedulable 1"]);
    pods.replace(null, [], live);
    expect([reasons(), starts.waitingCount, starts.oldestWaiting().size]).toEqual([[], 0, 0]);
  });
});
