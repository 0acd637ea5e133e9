import { describe, expect, it } from "vitest";
import { COST_FAMILIES } from "../../src/metrics/families/cost.js";
import { buildHouse } from "../../src/wiring.js";

const COST = new Set(COST_FAMILIES.map((family) => family.name));

describe("buildHouse", () => {
  const familyNames = (costCounters?: boolean) =>
    buildHouse({ processMetrics: false, ...(costCounters === undefined ? {} : { costCounters }) }).exposition.families.map((f) => f.name);

  it("builds no cost state and no cost family when the cost counters are off (KUBE_COST_COUNTERS)", () => {
    expect(buildHouse({ costCounters: false }).state.kube!.cost).toBeNull();
    expect(familyNames(false).filter((name) => COST.has(name))).toEqual([]);
  });

  it("has the cost families when they are on", () => {
    expect(familyNames(true).filter((name) => COST.has(name))).toEqual([...COST]);
  });
});
