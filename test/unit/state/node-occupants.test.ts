import { describe, expect, it } from "vitest";
import type { JobPodChanged } from "../../../src/domain/events.js";
import { NodeOccupants } from "../../../src/state/node-occupants.js";
import { jobPod } from "../../helpers/snapshots.js";

describe("the job pods of other shards on a shard's nodes", () => {
  it("keeps those on the nodes it counts, tells their changes once each, ends those a re-list misses unseen, and lets the pod state take one over silently", () => {
    const occupants = new NodeOccupants((pod) => pod.nodeName === "mine");
    const told: Array<[string, string, boolean]> = [];
    occupants.onJobPodChanged.add((c: JobPodChanged) => told.push([(c.next ?? c.previous)!.name, c.next ? "here" : "gone", c.endUnseen === true]));
    occupants.upsert(jobPod("a", { nodeName: "mine" }), true);
    occupants.upsert(jobPod("b", { nodeName: "other" }), false);
    occupants.upsert(jobPod("c", { nodeName: "" }), false);
    occupants.upsert(jobPod("d", { nodeName: "mine", namespace: "ci" }), false);
    occupants.upsert(jobPod("e", { nodeName: "mine" }), false);
    expect(occupants.size).toBe(3);
    // A re-list of gitlab-runner misses a; d, of another namespace, stays; e is taken over by the pod state.
    occupants.forget("uid-e");
    occupants.missing("gitlab-runner", new Set());
    occupants.remove(jobPod("d", { nodeName: "mine", namespace: "ci", phase: "Succeeded", finishedAtMs: 1 }));
    occupants.remove(jobPod("d", { nodeName: "mine", namespace: "ci" }));
    expect(occupants.size).toBe(0);
    expect(told).toEqual([
      ["a", "here", false],
      ["d", "here", false],
      ["e", "here", false],
      ["a", "gone", true],
      ["d", "gone", false],
    ]);
  });
});
