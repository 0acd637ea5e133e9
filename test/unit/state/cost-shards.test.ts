import { describe, expect, it } from "vitest";
import { capacityTypeOf, GIB, type PriceTable } from "../../../src/domain/cost.js";
import type { NodeSnapshot, PodSnapshot } from "../../../src/domain/pod.js";
import { ownsNodeType, ownsPod, shardOfNodeType, shardOfProject, UNSHARDED, type Sharding } from "../../../src/domain/shard.js";
import { CountingGate } from "../../../src/lib/counting-gate.js";
import type { HeldEntry } from "../../../src/lib/held-totals.js";
import { CostLedger } from "../../../src/state/cost.js";
import { NodeOccupants } from "../../../src/state/node-occupants.js";
import { NodeStore } from "../../../src/state/nodes.js";
import { PodStore } from "../../../src/state/pods.js";
import { container, jobPod, started } from "../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const HOUR = 3_600_000;
/** A core weighs 1, a GiB 0.25: a 4-core 16 GiB node is worth 8, a pod of 1 core and 2 GiB 1.5 of it. */
const PRICES: PriceTable = { currency: "USD", weights: { cpuCoreHour: 1, memoryGiBHour: 0.25 }, instanceTypes: new Map([["m5.xlarge", { onDemand: 2, spot: 0.8 }]]) };
const SHARE = 0.1875;

function node(name: string, spot: boolean): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0 - HOUR, deletingSinceMs: null, spot, instanceType: "m5.xlarge", zone: "z", nodegroup: spot ? "ci-spot" : "ci-od", evidence: null, readySinceMs: null, allocatable: { cpu: 4, memory: 16 * GIB } };
}

/** A job pod of project `projectId` asking 1 core and 2 GiB, bound to `nodeName` at `boundAtMs`. */
function pod(name: string, projectId: number, nodeName: string, boundAtMs: number): PodSnapshot {
  const base = jobPod(name, { nodeName, projectId, containers: [container("build", { requests: { cpu: 1, memory: 2 * GIB } })], start: started({ scheduledAtMs: boundAtMs }) });
  return { ...base, job: { ...base.job!, project: `p${projectId}`, jobId: String(projectId * 1000 + name.length) } };
}

const finished = (p: PodSnapshot, atMs: number): PodSnapshot => ({ ...p, phase: "Succeeded", finishedAtMs: atMs });

/** One shard's state as the exporter builds it: its own pods, and other shards' pods on the nodes it counts. */
function shardState(sharding: Sharding, clock: { now: number }, options: { gate?: CountingGate; heardAtMs?: number } = {}) {
  const nodes = new NodeStore();
  const countsNode = (instanceType: string, capacityType: string) => ownsNodeType(sharding, instanceType, capacityType);
  const occupants = sharding.total > 1 ? new NodeOccupants((p) => { const n = nodes.get(p.nodeName); return n === undefined || countsNode(n.instanceType, capacityTypeOf(n)); }) : undefined;
  const pods = new PodStore(nodes, { owns: (p) => ownsPod(sharding, p), ...(occupants ? { occupants } : {}) });
  const ledger = new CostLedger(pods, nodes, {
    prices: PRICES,
    now: () => clock.now,
    podsHeardAtMs: () => options.heardAtMs,
    countsNode: (labels) => countsNode(labels.instance_type, labels.capacity_type),
    ...(occupants ? { occupants } : {}),
    ...(options.gate ? { gate: options.gate } : {}),
  });
  return { nodes, pods, ledger, occupants };
}

type Totals = { values(): Iterable<HeldEntry<string>> };
const FAMILIES: Array<[string, (l: CostLedger) => Totals, number]> = [
  ["cpu", (l) => l.resources, 0],
  ["memory", (l) => l.resources, 1],
  ["cost", (l) => l.cost, 0],
  ["onDemand", (l) => l.cost, 1],
  ["ref", (l) => l.refs, 0],
  ["jobName", (l) => l.jobNames, 0],
  ["occupied", (l) => l.nodes.occupied, 0],
  ["idle", (l) => l.nodes.idleSeconds, 0],
  ["idleCost", (l) => l.nodes.idleCost, 0],
];

/** Every series of every cost family of a ledger, `family{labels}` → value; zeros left out. */
function series(ledger: CostLedger): Map<string, number> {
  ledger.read();
  const out = new Map<string, number>();
  for (const [family, totals, index] of FAMILIES) for (const entry of totals(ledger).values()) if (entry.values[index] !== 0) out.set(`${family}{${Object.values(entry.labels).join("|")}}`, entry.values[index]!);
  for (const { labels, count } of ledger.nodes.unpriced().values()) out.set(`unpriced{${labels.instance_type}|${labels.capacity_type}}`, count);
  return out;
}

describe("the cost ledger of a shard", () => {
  it("pays for its own pods and counts the nodes of its types with every pod on them: the shards add up to one replica, no series on two", () => {
    const [A, B] = [1, 2];
    expect([shardOfProject(A, 2), shardOfProject(B, 2)]).toEqual([0, 1]);
    expect([shardOfNodeType("m5.xlarge", "spot", 2), shardOfNodeType("m5.xlarge", "on_demand", 2)]).toEqual([0, 1]);
    const clock = { now: T0 };
    const replicas = [UNSHARDED, { shard: 0, total: 2 }, { shard: 1, total: 2 }].map((sharding) => shardState(sharding, clock, { heardAtMs: T0 + 2.5 * HOUR }));
    const apply = (f: (r: (typeof replicas)[number]) => void) => replicas.forEach(f);
    const at = (ms: number) => (clock.now = ms);
    const live = () => ({ nowMs: clock.now, observeEndedBuilds: true });
    apply((r) => r.nodes.replaceAll([node("n1", true), node("n2", false)], T0));
    // On n1 (spot, counted by shard 0): p of A 0-2 h, q of B 1-3 h, t of B from 2 h, found gone by a re-list (heard of last at 2.5 h).
    // On n2 (on demand, counted by shard 1): s of A 0-1 h, r of B from 0.5 h, running.
    const [p, q, r, s, t] = [pod("p", A, "n1", T0), pod("q", B, "n1", T0 + HOUR), pod("r", B, "n2", T0 + HOUR / 2), pod("s", A, "n2", T0), pod("t", B, "n1", T0 + 2 * HOUR)];
    at(T0 + HOUR);
    apply((x) => [p, q, r, s].forEach((one) => x.pods.upsert(one, live())));
    apply((x) => x.pods.upsert(finished(s, T0 + HOUR), live()));
    apply((x) => x.pods.remove(finished(s, T0 + HOUR), T0 + HOUR));
    at(T0 + 2 * HOUR);
    apply((x) => x.pods.upsert(t, live()));
    apply((x) => x.pods.upsert(finished(p, T0 + 2 * HOUR), live()));
    at(T0 + 3 * HOUR);
    apply((x) => x.pods.upsert(finished(q, T0 + 3 * HOUR), live()));
    apply((x) => x.pods.replace(null, [finished(p, T0 + 2 * HOUR), finished(q, T0 + 3 * HOUR), r], live()));
    at(T0 + 4 * HOUR);

    const [one, ...shards] = replicas.map((x) => series(x.ledger));
    // Known numbers: n1 busy 0-3 h with 2 + 2 + 0.5 pod-hours; n2 busy 0-4 h with 1 + 3.5.
    expect(one!.get("occupied{spot|ci-spot|m5.xlarge}")).toBeCloseTo(3 * 3600, 6);
    expect(one!.get("idle{spot|ci-spot|m5.xlarge}")).toBeCloseTo((3 - SHARE * 4.5) * 3600, 6);
    expect(one!.get("occupied{on_demand|ci-od|m5.xlarge}")).toBeCloseTo(4 * 3600, 6);
    expect(one!.get("idleCost{on_demand|ci-od|m5.xlarge}")).toBeCloseTo((4 - SHARE * 4.5) * 2, 9);
    expect(one!.get("cost{p2|spot}")).toBeCloseTo(SHARE * 0.8 * 2.5, 9);
    expect(one!.get("cpu{p2|on_demand|ci-od|m5.xlarge}")).toBeCloseTo(3.5 * 3600, 6);
    // The shards together: every series of the single replica, from exactly one shard.
    const owners = new Map<string, number>();
    shards.forEach((view, i) => view.forEach((_, key) => owners.set(key, owners.has(key) ? -1 : i)));
    expect([...owners].filter(([, owner]) => owner < 0)).toEqual([]);
    expect([...owners.keys()].sort()).toEqual([...one!.keys()].sort());
    for (const [key, value] of one!) expect(shards[owners.get(key)!]!.get(key), key).toBeCloseTo(value, 6);
    expect(owners.get("occupied{spot|ci-spot|m5.xlarge}")).toBe(0);
    expect(owners.get("occupied{on_demand|ci-od|m5.xlarge}")).toBe(1);
    // Shard 1 kept of shard 0's pods only what sat on its nodes, and nothing once they went.
    expect(replicas[2]!.occupants!.size).toBe(0);
    expect(replicas.map((x) => x.ledger.openHolds)).toEqual([1, 0, 1]);
  });
});

describe("the cost ledger of a standby", () => {
  /** A node n1 with pods: a from the first list (bound long before), b 0.5-1.5 h, c 0.5-0.75 h, d from 1.25 h. */
  function standby() {
    const clock = { now: T0 + HOUR / 4 };
    const gate = new CountingGate({ open: false, holdMs: 10 * HOUR, maxHeld: 1000, now: () => clock.now });
    const shard = shardState(UNSHARDED, clock, { gate });
    const live = () => ({ nowMs: clock.now, observeEndedBuilds: true });
    shard.nodes.replaceAll([node("n1", true)], clock.now);
    const [a, b, c, d] = [pod("a", 1, "n1", T0 - HOUR), pod("b", 1, "n1", T0 + HOUR / 2), pod("c", 1, "n1", T0 + HOUR / 2), pod("dd", 1, "n1", T0 + 1.25 * HOUR)];
    shard.pods.replace(null, [a], { nowMs: clock.now, observeEndedBuilds: false });
    clock.now = T0 + HOUR / 2;
    shard.pods.upsert(b, live());
    shard.pods.upsert(c, live());
    clock.now = T0 + 0.75 * HOUR;
    shard.pods.remove(finished(c, clock.now), clock.now);
    clock.now = T0 + 1.25 * HOUR;
    shard.pods.upsert(d, live());
    clock.now = T0 + 1.5 * HOUR;
    shard.pods.upsert(finished(b, clock.now), live());
    clock.now = T0 + 1.8 * HOUR;
    return { ...shard, clock, gate, a };
  }

  it("counts nothing while standing by, then from the takeover's moment: running pods from then, pods that ended meanwhile for their part after it", () => {
    const { ledger, clock, gate, pods, a } = standby();
    expect(series(ledger)).toEqual(new Map());
    // The predecessor's last renewal was at 1 h; the standby takes over at 2 h.
    clock.now = T0 + 2 * HOUR;
    ledger.countFrom(T0 + HOUR);
    gate.openFrom(T0 + HOUR);
    clock.now = T0 + 3 * HOUR;
    // a 1-3 h, b 1-1.5 h, c nothing, d 1.25-3 h: 4.25 pod-hours; n1 busy 1-3 h.
    const read = series(ledger);
    expect(read.get("cpu{p1|spot|ci-spot|m5.xlarge}")).toBeCloseTo(4.25 * 3600, 6);
    expect(read.get("cost{p1|spot}")).toBeCloseTo(SHARE * 0.8 * 4.25, 9);
    expect(read.get("occupied{spot|ci-spot|m5.xlarge}")).toBeCloseTo(2 * 3600, 6);
    expect(read.get("idle{spot|ci-spot|m5.xlarge}")).toBeCloseTo((2 - SHARE * 4.25) * 3600, 6);
    // a ends at 3.5 h: settled from the takeover's moment, not from its first sight.
    clock.now = T0 + 3.5 * HOUR;
    pods.upsert(finished(a, clock.now), { nowMs: clock.now, observeEndedBuilds: true });
    clock.now = T0 + 4 * HOUR;
    const later = series(ledger);
    expect(later.get("cpu{p1|spot|ci-spot|m5.xlarge}")).toBeCloseTo((2.5 + 0.5 + 2.75) * 3600, 6);
    expect(later.get("occupied{spot|ci-spot|m5.xlarge}")).toBeCloseTo(3 * 3600, 6);
    for (const [key, value] of read) expect(later.get(key)!, key).toBeGreaterThanOrEqual(value);
  });

  it("without a predecessor counts everything seen since its start, the first list from its start", () => {
    const { ledger, clock, gate } = standby();
    clock.now = T0 + 2 * HOUR;
    ledger.countFrom(null);
    gate.openFrom(null);
    clock.now = T0 + 3 * HOUR;
    // a 0.25-3 h, b 0.5-1.5 h, c 0.5-0.75 h, d 1.25-3 h.
    expect(series(ledger).get("cpu{p1|spot|ci-spot|m5.xlarge}")).toBeCloseTo((2.75 + 1 + 0.25 + 1.75) * 3600, 6);
    expect(series(ledger).get("occupied{spot|ci-spot|m5.xlarge}")).toBeCloseTo(2.75 * 3600, 6);
  });
});
