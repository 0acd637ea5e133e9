import { describe, expect, it } from "vitest";
import { buildHouse } from "../../src/wiring.js";

const COST = /^gitlab_ci_(job_cpu_core_seconds|job_memory_byte_seconds|job_cost|job_on_demand_cost|node_occupied_seconds|node_idle_seconds|node_idle_cost)_total$/;

describe("buildHouse", () => {
  const familyNames = (costCounters?: boolean) =>
    buildHouse({ processMetrics: false, ...(costCounters === undefined ? {} : { costCounters }) }).exposition.families.map((f) => f.name);

  it("builds no cost state and no cost family when the cost counters are off (KUBE_COST_COUNTERS)", () => {
    expect(buildHouse({ costCounters: false }).state.kube!.cost).toBeNull();
    expect(familyNames(false).filter((name) => COST.test(name))).toEqual([]);
  });

  it("has the cost families when they are on", () => {
    expect(familyNames(true).filter((name) => COST.test(name)).length).toBe(7);
  });
});
