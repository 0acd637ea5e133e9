import { describe, expect, it } from "vitest";
import { GIB, type PriceTable } from "../../../../src/domain/cost.js";
import type { NodeSnapshot, PodSnapshot } from "../../../../src/domain/pod.js";
import { COST_FAMILIES } from "../../../../src/metrics/families/cost.js";
import { CostLedger } from "../../../../src/state/cost.js";
import { NodeStore } from "../../../../src/state/nodes.js";
import { PodStore } from "../../../../src/state/pods.js";
import { familiesOf } from "../../../helpers/families.js";
import { container, jobPod, started } from "../../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const HOUR = 3_600_000;
/** CPU alone sets the share: a 1-core pod takes a quarter of a 4-core node. */
const PRICES: PriceTable = { currency: "EUR", weights: { cpuCoreHour: 1, memoryGiBHour: 1e-12 }, instanceTypes: new Map([["c6i.xlarge", { onDemand: 0.2, spot: 0.08 }]]) };

function node(name: string, overrides: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return { name, uid: `uid-${name}`, createdAtMs: T0, deletingSinceMs: null, spot: true, instanceType: "c6i.xlarge", zone: "a", nodegroup: "ci", evidence: null, readySinceMs: null, allocatable: { cpu: 4, memory: 8 * GIB }, ...overrides };
}

function pod(name: string, nodeName: string, ref: string, jobName: string): PodSnapshot {
  const base = jobPod(name, { nodeName, containers: [container("build", { requests: { cpu: 1, memory: GIB } })], start: started({ scheduledAtMs: T0 }) });
  return { ...base, job: { ...base.job!, ref, jobName } };
}

function setup(prices: PriceTable | null = PRICES, maxPerFamily = 1000) {
  const clock = { now: T0 };
  const nodes = new NodeStore();
  const pods = new PodStore(nodes);
  const cost = new CostLedger(pods, nodes, { prices, now: () => clock.now });
  return { clock, nodes, pods, ...familiesOf(COST_FAMILIES, { cost }, maxPerFamily) };
}

describe("cost families", () => {
  it("count resource-time, cost, its on-demand equivalent, per ref and job name, and the nodes' idle time", () => {
    const { clock, nodes, pods, series, value } = setup();
    nodes.upsert(node("spot-1"), T0);
    nodes.upsert(node("od-1", { spot: false, nodegroup: "ci-od" }), T0);
    pods.upsert(pod("a", "spot-1", "main", "test"), { nowMs: T0, observeEndedBuilds: true });
    pods.upsert(pod("b", "od-1", "feature/x", "build"), { nowMs: T0, observeEndedBuilds: true });
    clock.now = T0 + 2 * HOUR;
    expect(series("gitlab_ci_job_cpu_core_seconds_total")).toEqual([
      [{ project: "acme/api", capacity_type: "spot", nodegroup: "ci", instance_type: "c6i.xlarge" }, 7200],
      [{ project: "acme/api", capacity_type: "on_demand", nodegroup: "ci-od", instance_type: "c6i.xlarge" }, 7200],
    ]);
    expect(value("gitlab_ci_job_memory_byte_seconds_total", { capacity_type: "spot" })).toBe(7200 * GIB);
    // A quarter of the node for two hours.
    expect(value("gitlab_ci_job_cost_total", { capacity_type: "spot" })).toBeCloseTo(0.25 * 0.08 * 2, 6);
    expect(value("gitlab_ci_job_cost_total", { capacity_type: "on_demand" })).toBeCloseTo(0.25 * 0.2 * 2, 6);
    expect(value("gitlab_ci_job_on_demand_cost_total", { capacity_type: "spot" })).toBeCloseTo(0.25 * 0.2 * 2, 6);
    expect(value("gitlab_ci_job_cost_by_ref_total", { ref: "feature/x" })).toBeCloseTo(0.1, 6);
    expect(value("gitlab_ci_job_cost_by_job_name_total", { job_name: "test" })).toBeCloseTo(0.04, 6);
    expect(value("gitlab_ci_node_occupied_seconds_total", { nodegroup: "ci" })).toBe(7200);
    expect(value("gitlab_ci_node_idle_seconds_total", { nodegroup: "ci" })).toBeCloseTo(0.75 * 7200, 3);
    expect(value("gitlab_ci_node_idle_cost_total", { nodegroup: "ci" })).toBeCloseTo(0.75 * 0.08 * 2, 6);
    expect(series("gitlab_ci_cost_currency_info")).toEqual([[{ currency: "EUR" }, 1]]);
    expect(series("gitlab_ci_nodes_unpriced")).toEqual([]);
    // Counted up to each scrape while the pods run.
    clock.now = T0 + 3 * HOUR;
    expect(value("gitlab_ci_job_cpu_core_seconds_total", { capacity_type: "spot" })).toBe(10_800);
  });

  it("leave the priced families empty without a price table", () => {
    const { clock, nodes, pods, series, value } = setup(null);
    nodes.upsert(node("spot-1"), T0);
    pods.upsert(pod("a", "spot-1", "main", "test"), { nowMs: T0, observeEndedBuilds: true });
    clock.now = T0 + HOUR;
    expect(value("gitlab_ci_job_cpu_core_seconds_total")).toBe(3600);
    // Without a table the node is split by OpenCost's weights: a 1-core 1 GiB pod of a 4-core 8 GiB node.
    const share = (0.031611 + 0.004237) / (4 * 0.031611 + 8 * 0.004237);
    expect(value("gitlab_ci_node_idle_seconds_total")).toBeCloseTo((1 - share) * 3600, 3);
    for (const name of ["gitlab_ci_job_cost_total", "gitlab_ci_job_on_demand_cost_total", "gitlab_ci_job_cost_by_ref_total", "gitlab_ci_job_cost_by_job_name_total", "gitlab_ci_node_idle_cost_total", "gitlab_ci_cost_currency_info", "gitlab_ci_nodes_unpriced"]) {
      expect(series(name), name).toEqual([]);
    }
  });

  it("keep each family under the series cap, counting what it leaves out", () => {
    const { clock, nodes, pods, series, dropped } = setup(PRICES, 100);
    nodes.upsert(node("spot-1", { allocatable: { cpu: 1000, memory: 1000 * GIB } }), T0);
    for (let i = 0; i < 150; i++) pods.upsert({ ...pod(`p${i}`, "spot-1", `branch-${i}`, "test"), uid: `uid-${i}` }, { nowMs: T0, observeEndedBuilds: true });
    clock.now = T0 + HOUR;
    expect(series("gitlab_ci_job_cost_by_ref_total")).toHaveLength(100);
    expect(dropped().filter((s) => s.labels.family === "gitlab_ci_job_cost_by_ref_total").map((s) => s.value)).toEqual([50]);
  });
});
