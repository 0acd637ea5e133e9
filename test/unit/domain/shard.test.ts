import { describe, expect, it } from "vitest";
import { fnv32a, ordinalsOfShard, ownsNode, ownsNodeType, ownsPod, ownsProject, shardOfKey, shardOfNodeType, shardOfOrdinal, shardOfPod, shardOfProject, statefulSetPod } from "../../../src/domain/shard.js";

describe("sharding", () => {
  it("hashes with FNV-1a, 32 bits", () => {
    // Reference values of the 32-bit FNV-1a test suite.
    expect(fnv32a("")).toBe(0x811c9dc5);
    expect(fnv32a("a")).toBe(0xe40c292c);
    expect(fnv32a("foobar")).toBe(0xbf9cf968);
  });

  it("gives every key exactly one shard, and one of about as many keys each", () => {
    const total = 3;
    const counts = [0, 0, 0];
    for (let id = 1; id <= 3000; id++) {
      const owners = [0, 1, 2].filter((shard) => ownsProject({ shard, total }, id));
      expect(owners).toHaveLength(1);
      counts[owners[0]!]!++;
    }
    for (const count of counts) expect(count).toBeGreaterThan(900);
    expect(counts.reduce((a, b) => a + b)).toBe(3000);
  });

  it("puts a job pod with its project, any other pod by its UID, a node by its name", () => {
    expect(shardOfPod({ uid: "u-1", projectId: 42 }, 5)).toBe(shardOfProject(42, 5));
    expect(shardOfPod({ uid: "u-1", projectId: null }, 5)).toBe(shardOfKey("u-1", 5));
    expect(ownsPod({ shard: shardOfProject(7, 4), total: 4 }, { uid: "x", projectId: 7 })).toBe(true);
    expect(ownsNode({ shard: shardOfKey("ip-10-0-0-1", 4), total: 4 }, "ip-10-0-0-1")).toBe(true);
  });

  it("owns everything alone", () => {
    expect(ownsProject({ shard: 0, total: 1 }, 123)).toBe(true);
    expect(ownsNode({ shard: 0, total: 1 }, "n")).toBe(true);
  });

  it("maps consecutive StatefulSet ordinals to a shard", () => {
    expect([0, 1, 2, 3, 4, 5].map((o) => shardOfOrdinal(o, 2))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(ordinalsOfShard(2, 2)).toEqual([4, 5]);
    expect(ordinalsOfShard(1, 1)).toEqual([1]);
  });

  it("reads the StatefulSet and ordinal from a pod name", () => {
    expect(statefulSetPod("gitlab-ci-k8s-exporter-12")).toEqual({ statefulSet: "gitlab-ci-k8s-exporter", ordinal: 12 });
    expect(statefulSetPod("exporter-7d9f-abcde")).toBeNull();
    expect(statefulSetPod("exporter")).toBeNull();
  });

  it("places the CI time of the nodes of one instance and capacity type on one shard, every replica alike", () => {
    expect(shardOfNodeType("m5.xlarge", "spot", 2)).toBe(shardOfKey("m5.xlarge\u0000spot", 2));
    expect(shardOfNodeType("m5.xlarge", "spot", 1)).toBe(0);
    const owners = [0, 1, 2].filter((shard) => ownsNodeType({ shard, total: 3 }, "c5a.2xlarge", "on_demand"));
    expect(owners).toEqual([shardOfNodeType("c5a.2xlarge", "on_demand", 3)]);
  });
});
