import { describe, expect, it } from "vitest";
import { allocatableOf, costRates, departedHoldMs, finishedHoldMs, GIB, heldSeconds, nodePrice, nodeShare, OPENCOST_RESOURCE_WEIGHTS, podRequests, type PriceTable } from "../../../src/domain/cost.js";
import { container } from "../../helpers/snapshots.js";

const TABLE: PriceTable = {
  currency: "USD",
  weights: OPENCOST_RESOURCE_WEIGHTS,
  instanceTypes: new Map([
    ["c5a.2xlarge", { onDemand: 0.308, spot: 0.1201 }],
    ["m7g.large", { onDemand: 0.0816, spot: null }],
  ]),
};

describe("node prices", () => {
  it("price a node at its capacity type, with the on-demand price of the same type beside it", () => {
    expect(nodePrice(TABLE, "c5a.2xlarge", "spot")).toEqual({ hourly: 0.1201, onDemandHourly: 0.308 });
    expect(nodePrice(TABLE, "c5a.2xlarge", "on_demand")).toEqual({ hourly: 0.308, onDemandHourly: 0.308 });
  });

  it("leave a node unpriced when its type, or its spot price, is not in the table", () => {
    expect(nodePrice(TABLE, "x1.32xlarge", "on_demand")).toBeNull();
    expect(nodePrice(TABLE, "m7g.large", "spot")).toBeNull();
    expect(nodePrice(null, "c5a.2xlarge", "spot")).toBeNull();
  });
});

describe("a pod's share of its node", () => {
  it("weighs requested CPU and memory by their unit prices, over the node's allocatable resources", () => {
    // c5a.2xlarge: 8 vCPU, 16 GiB. OpenCost's weights: a core-hour 0.031611, a GiB-hour 0.004237.
    const node = { cpu: 8, memory: 16 * GIB };
    const share = nodeShare({ cpu: 2, memory: 4 * GIB }, node, OPENCOST_RESOURCE_WEIGHTS);
    expect(share).toBeCloseTo(0.25, 12);
    const skewed = nodeShare({ cpu: 4, memory: 0 }, node, OPENCOST_RESOURCE_WEIGHTS);
    expect(skewed).toBeCloseTo((4 * 0.031611) / (8 * 0.031611 + 16 * 0.004237), 12);
    // Shares of pods that fill the node add up to 1.
    expect(skewed + nodeShare({ cpu: 4, memory: 16 * GIB }, node, OPENCOST_RESOURCE_WEIGHTS)).toBeCloseTo(1, 12);
  });

  it("cost a second what the share of the node's hourly price says", () => {
    expect(costRates(0.25, { hourly: 0.1201, onDemandHourly: 0.308 })).toEqual({ perSecond: (0.25 * 0.1201) / 3600, onDemandPerSecond: (0.25 * 0.308) / 3600 });
  });

  it("add up the requests of every container; a container without one asks for nothing", () => {
    expect(podRequests([container("build", { requests: { cpu: 1.5, memory: 3 * GIB } }), container("helper", { requests: { cpu: 0.1 } }), container("svc", { requests: {} })])).toEqual({ cpu: 1.6, memory: 3 * GIB });
  });

  it("need both allocatable resources of a node", () => {
    expect(allocatableOf({ cpu: 7.91, memory: 30 * GIB })).toEqual({ cpu: 7.91, memory: 30 * GIB });
    expect(allocatableOf({ cpu: 8 })).toBeNull();
    expect(allocatableOf({ cpu: 0, memory: GIB })).toBeNull();
    expect(allocatableOf(undefined)).toBeNull();
  });
});

describe("a pod's hold on its node", () => {
  it("ends at its final phase's time, and runs on otherwise", () => {
    expect(finishedHoldMs({ phase: "Succeeded", finishedAtMs: 5 })).toBe(5);
    expect(finishedHoldMs({ phase: "Failed", finishedAtMs: null })).toBeNull();
    expect(finishedHoldMs({ phase: "Running", finishedAtMs: 5 })).toBeNull();
  });

  it("ends, for a pod gone without a final phase, when it was seen gone, but no later than its deletion was due", () => {
    expect(departedHoldMs({ phase: "Running", finishedAtMs: null, deletionDueAtMs: 40 }, 100)).toBe(40);
    expect(departedHoldMs({ phase: "Running", finishedAtMs: null, deletionDueAtMs: 400 }, 100)).toBe(100);
    expect(departedHoldMs({ phase: "Running", finishedAtMs: null }, 100)).toBe(100);
    expect(departedHoldMs({ phase: "Failed", finishedAtMs: 20, deletionDueAtMs: 40 }, 100)).toBe(20);
  });

  it("lasts from its start to its end, cut at its node's removal, never below zero", () => {
    expect(heldSeconds(1000, 61_000)).toBe(60);
    expect(heldSeconds(1000, 61_000, 31_000)).toBe(30);
    expect(heldSeconds(61_000, 1000)).toBe(0);
  });
});
