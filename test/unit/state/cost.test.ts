import { describe, expect, it } from "vitest";
import { GIB, type PriceTable } from "../../../src/domain/cost.js";
import type { NodeSnapshot, PodSnapshot } from "../../../src/domain/pod.js";
import type { HeldEntry } from "../../../src/lib/held-totals.js";
import { CostLedger, COST_SERIES_FORGET_MS } from "../../../src/state/cost.js";
import { NodeStore } from "../../../src/state/nodes.js";
import { PodStore } from "../../../src/state/pods.js";
import { container, jobPod, started } from "../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const HOUR = 3_600_000;
/** A core weighs 1, a GiB 0.25: a 4-core 16 GiB node is worth 8, a pod of 1 core and 2 GiB 1.5 of it (0.1875). */
const PRICES: PriceTable = {
  currency: "USD",
  weights: { cpuCoreHour: 1, memoryGiBHour: 0.25 },
  instanceTypes: new Map([["m5.xlarge", { onDemand: 2, spot: 0.8 }]]),
};
const SHARE = 0.1875;

function node(name: string, overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0 - HOUR, deletingSinceMs: null, spot: true, instanceType: "m5.xlarge", zone: "z", nodegroup: "ci-spot", evidence: null, readySinceMs: null, allocatable: { cpu: 4, memory: 16 * GIB }, ...overrides };
}

/** A job pod of one build container asking 1 core and 2 GiB, bound to `nodeName` at `boundAtMs`. */
function pod(name: string, boundAtMs: number, overrides: Partial<PodSnapshot> = {}): PodSnapshot {
  const base = jobPod(name, { containers: [container("build", { requests: { cpu: 1, memory: 2 * GIB } })], start: started({ scheduledAtMs: boundAtMs }) });
  return { ...base, ...overrides, job: { ...base.job!, ...overrides.job } };
}

function finished(p: PodSnapshot, atMs: number): PodSnapshot {
  return { ...p, phase: "Succeeded", finishedAtMs: atMs };
}

function setup(options: { prices?: PriceTable | null; nodesWatched?: boolean; heardAtMs?: number } = {}) {
  const clock = { now: T0 };
  const nodes = new NodeStore();
  const pods = new PodStore(nodes);
  const ledger = new CostLedger(pods, nodes, { prices: options.prices === undefined ? PRICES : options.prices, nodesWatched: options.nodesWatched ?? true, now: () => clock.now, podsHeardAtMs: () => options.heardAtMs });
  const live = () => ({ nowMs: clock.now, observeEndedBuilds: true });
  const at = (ms: number) => {
    clock.now = ms;
  };
  return { clock, nodes, pods, ledger, live, at };
}

/** Values of the totals by their labels joined with "|". */
function values<L extends string>(totals: { values(): Iterable<HeldEntry<L>> }, index = 0): Record<string, number> {
  const result: Record<string, number> = {};
  for (const entry of totals.values()) result[Object.values(entry.labels).join("|")] = entry.values[index]!;
  return result;
}

describe("the cost ledger", () => {
  it("counts a running pod's requests and price up to each reading, and settles it exactly at its end", () => {
    const { nodes, pods, ledger, live, at } = setup();
    nodes.upsert(node("n1"), T0);
    at(T0 + 60_000);
    pods.upsert(pod("p", T0), live());
    at(T0 + HOUR);
    ledger.read();
    expect(values(ledger.resources, 0)).toEqual({ "acme/api|spot|ci-spot|m5.xlarge": 3600 });
    expect(values(ledger.resources, 1)).toEqual({ "acme/api|spot|ci-spot|m5.xlarge": 2 * GIB * 3600 });
    expect(values(ledger.cost, 0)["acme/api|spot"]).toBeCloseTo(SHARE * 0.8, 12);
    expect(values(ledger.cost, 1)["acme/api|spot"]).toBeCloseTo(SHARE * 2, 12);
    expect(values(ledger.refs)["acme/api|main"]).toBeCloseTo(SHARE * 0.8, 12);
    expect(values(ledger.jobNames)["acme/api|build"]).toBeCloseTo(SHARE * 0.8, 12);

    // It finished at 1.5 h; the pod state tells at 1.5 h and a minute, and again and again.
    at(T0 + 1.5 * HOUR + 60_000);
    for (let i = 0; i < 3; i++) pods.upsert(finished(pod("p", T0), T0 + 1.5 * HOUR), live());
    pods.remove(finished(pod("p", T0), T0 + 1.5 * HOUR), T0 + 2 * HOUR);
    at(T0 + 5 * HOUR);
    ledger.read();
    expect(values(ledger.resources, 0)).toEqual({ "acme/api|spot|ci-spot|m5.xlarge": 5400 });
    expect(values(ledger.cost, 0)["acme/api|spot"]).toBeCloseTo(SHARE * 0.8 * 1.5, 12);
    expect(ledger.openHolds).toBe(0);
  });

  it("never reads lower: an end learned late holds the counter until the truth passes it", () => {
    const { nodes, pods, ledger, live, at } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(pod("p", T0), live());
    at(T0 + HOUR);
    ledger.read();
    // The pod had ended at 30 min: the truth is half what was read.
    pods.upsert(finished(pod("p", T0), T0 + HOUR / 2), live());
    at(T0 + HOUR + 1000);
    ledger.read();
    expect(values(ledger.resources, 0)["acme/api|spot|ci-spot|m5.xlarge"]).toBe(3600);
    // Another pod of the same project and node runs for 45 min: the truth is 75 min, read as such.
    pods.upsert(pod("q", T0 + HOUR, { uid: "uid-q" }), live());
    at(T0 + HOUR + 45 * 60_000);
    ledger.read();
    expect(values(ledger.resources, 0)["acme/api|spot|ci-spot|m5.xlarge"]).toBe(75 * 60);
  });

  it("prices the idle part of a node that holds job pods: the node-seconds no job pod requested", () => {
    const { nodes, pods, ledger, live, at } = setup();
    nodes.upsert(node("n1"), T0);
    // p holds 0-2 h, q 1-3 h: busy 3 h, requested share-hours 2 × 0.1875 × 2 = 0.75.
    pods.upsert(pod("p", T0), live());
    pods.upsert(pod("q", T0 + HOUR, { uid: "uid-q" }), live());
    at(T0 + 2 * HOUR);
    pods.upsert(finished(pod("p", T0), T0 + 2 * HOUR), live());
    at(T0 + 3 * HOUR);
    pods.upsert(finished(pod("q", T0 + HOUR, { uid: "uid-q" }), T0 + 3 * HOUR), live());
    at(T0 + 10 * HOUR);
    ledger.read();
    expect(values(ledger.nodes.occupied)).toEqual({ "spot|ci-spot|m5.xlarge": 3 * 3600 });
    expect(values(ledger.nodes.idleSeconds)["spot|ci-spot|m5.xlarge"]).toBeCloseTo((3 - 0.75) * 3600, 6);
    expect(values(ledger.nodes.idleCost)["spot|ci-spot|m5.xlarge"]).toBeCloseTo((3 - 0.75) * 0.8, 9);
    // What the pods paid and what idled add up to the node's price over its busy time.
    expect(values(ledger.cost)["acme/api|spot"]! + values(ledger.nodes.idleCost)["spot|ci-spot|m5.xlarge"]!).toBeCloseTo(3 * 0.8, 9);
  });

  it("ends the holds on a node at its removal, and settles the node once its pods are gone", () => {
    const { nodes, pods, ledger, live, at } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(pod("p", T0), live());
    at(T0 + HOUR);
    // Reclaimed without notice at 1 h: the node goes first, its pod is collected 2 minutes later.
    nodes.remove(node("n1", { deletingSinceMs: T0 + HOUR }), T0 + HOUR);
    at(T0 + HOUR + 120_000);
    pods.remove({ ...pod("p", T0), deletionRequestedAtMs: T0 + HOUR + 120_000 }, T0 + HOUR + 120_000);
    at(T0 + 2 * HOUR);
    ledger.read();
    expect(values(ledger.resources, 0)["acme/api|spot|ci-spot|m5.xlarge"]).toBe(3600);
    expect(values(ledger.nodes.occupied)).toEqual({ "spot|ci-spot|m5.xlarge": 3600 });
    expect(ledger.nodes.size).toBe(0);
  });

  it("places a pod seen only after its node went on that node, its hold cut at the node's removal", () => {
    const { nodes, pods, ledger, live, at } = setup();
    nodes.upsert(node("n1"), T0);
    nodes.upsert(node("n2", { nodegroup: "other" }), T0);
    pods.upsert(pod("first", T0, { nodeName: "n1" }), live());
    at(T0 + HOUR);
    nodes.remove(node("n1", { deletingSinceMs: T0 + HOUR }), T0 + HOUR);
    nodes.remove(node("n2", { nodegroup: "other", deletingSinceMs: T0 + HOUR }), T0 + HOUR);
    // The pod watch lags: pods bound at 30 min show up after their nodes went (n2 held none seen
    // before), and are collected.
    at(T0 + HOUR + 5000);
    for (const [name, nodeName] of [["late", "n1"], ["lone", "n2"]]) {
      const late = pod(name!, T0 + HOUR / 2, { uid: `uid-${name}`, nodeName });
      pods.upsert(late, live());
      pods.remove(late, T0 + HOUR + 6000);
    }
    pods.remove(pod("first", T0, { nodeName: "n1" }), T0 + HOUR + 6000);
    at(T0 + HOUR + 10_000);
    ledger.read();
    expect(values(ledger.resources, 0)).toEqual({ "acme/api|spot|ci-spot|m5.xlarge": 3600 + 1800, "acme/api|spot|other|m5.xlarge": 1800 });
    expect(values(ledger.nodes.occupied)).toEqual({ "spot|ci-spot|m5.xlarge": 3600, "spot|other|m5.xlarge": 1800 });
    // Their records stay a while for pods seen late, then settle for good.
    expect(ledger.nodes.size).toBe(2);
    at(T0 + 3 * HOUR);
    ledger.read();
    expect(ledger.nodes.size).toBe(0);
    expect(values(ledger.nodes.occupied)).toEqual({ "spot|ci-spot|m5.xlarge": 3600, "spot|other|m5.xlarge": 1800 });
  });

  it("counts pods the first list finds running from then, not from their binding", () => {
    const { nodes, pods, ledger, at } = setup();
    nodes.upsert(node("n1"), T0);
    at(T0 + HOUR);
    pods.replace(null, [pod("old", T0)], { nowMs: T0 + HOUR, observeEndedBuilds: false });
    at(T0 + 2 * HOUR);
    ledger.read();
    expect(values(ledger.resources, 0)["acme/api|spot|ci-spot|m5.xlarge"]).toBe(3600);
  });

  it("ends a pod a re-list finds gone when the pods were last heard of, and counts a pod created meanwhile from its binding", () => {
    const { nodes, pods, ledger, live, at } = setup({ heardAtMs: T0 + 30 * 60_000 });
    nodes.upsert(node("n1"), T0);
    pods.upsert(pod("gone", T0), live());
    at(T0 + HOUR);
    // The watch was down from 30 min to 1 h; the re-list finds `gone` missing and `new` finished.
    const created = finished(pod("new", T0 + 40 * 60_000, { uid: "uid-new", job: { ref: "feature/x" } as PodSnapshot["job"] }), T0 + 50 * 60_000);
    pods.replace(null, [created], live());
    pods.replace(null, [created], live());
    at(T0 + 3 * HOUR);
    ledger.read();
    expect(values(ledger.resources, 0)["acme/api|spot|ci-spot|m5.xlarge"]).toBe(30 * 60 + 10 * 60);
    expect(values(ledger.refs)["acme/api|feature/x"]).toBeCloseTo((SHARE * 0.8) / 6, 12);
  });

  it("waits for a node not known yet, then counts from the binding; without the node watch counts with no node", () => {
    const watched = setup();
    watched.pods.upsert(pod("p", T0), watched.live());
    watched.at(T0 + HOUR);
    watched.ledger.read();
    expect(values(watched.ledger.resources)).toEqual({});
    watched.nodes.upsert(node("n1"), T0 + HOUR);
    watched.at(T0 + 2 * HOUR);
    watched.ledger.read();
    expect(values(watched.ledger.resources, 0)).toEqual({ "acme/api|spot|ci-spot|m5.xlarge": 7200 });

    const blind = setup({ nodesWatched: false });
    blind.pods.upsert(pod("p", T0), blind.live());
    blind.at(T0 + HOUR);
    blind.ledger.read();
    expect(values(blind.ledger.resources, 0)).toEqual({ "acme/api|||": 3600 });
    expect(values(blind.ledger.cost)).toEqual({});
  });

  it("splits a hold whose labels change, and forgets a branch no pod paid for in a day", () => {
    const { nodes, pods, ledger, live, at } = setup();
    nodes.upsert(node("n1"), T0);
    pods.upsert(pod("p", T0), live());
    at(T0 + HOUR);
    pods.upsert(pod("p", T0, { job: { ref: "release" } as PodSnapshot["job"] }), live());
    at(T0 + 2 * HOUR);
    pods.upsert(finished(pod("p", T0, { job: { ref: "release" } as PodSnapshot["job"] }), T0 + 2 * HOUR), live());
    ledger.read();
    expect(values(ledger.refs)).toEqual({ "acme/api|main": expect.closeTo(SHARE * 0.8, 12), "acme/api|release": expect.closeTo(SHARE * 0.8, 12) });
    at(T0 + 2 * HOUR + COST_SERIES_FORGET_MS + 1);
    ledger.read();
    expect(values(ledger.refs)).toEqual({});
    // The project's totals stay.
    expect(values(ledger.cost)["acme/api|spot"]).toBeCloseTo(2 * SHARE * 0.8, 12);
  });

  it("prices nothing without a table, and tells which nodes holding job pods have no price", () => {
    const free = setup({ prices: null });
    free.nodes.upsert(node("n1"), T0);
    free.pods.upsert(pod("p", T0), free.live());
    free.at(T0 + HOUR);
    free.ledger.read();
    expect(values(free.ledger.resources, 0)).toEqual({ "acme/api|spot|ci-spot|m5.xlarge": 3600 });
    expect(values(free.ledger.cost)).toEqual({});
    expect([...free.ledger.nodes.unpriced().values()]).toEqual([]);

    const { nodes, pods, ledger, live } = setup();
    nodes.upsert(node("n2", { instanceType: "x9.huge" }), T0);
    nodes.upsert(node("n3", { spot: false }), T0);
    pods.upsert(pod("p", T0, { nodeName: "n2" }), live());
    pods.upsert(pod("q", T0, { uid: "uid-q", nodeName: "n3" }), live());
    expect([...ledger.nodes.unpriced().values()]).toEqual([{ labels: { instance_type: "x9.huge", capacity_type: "spot" }, count: 1 }]);
  });
});
