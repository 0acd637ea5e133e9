import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { OPENCOST_RESOURCE_WEIGHTS } from "../../../src/domain/cost.js";
import { BASE_ENV, configErrorOf } from "../../helpers/config.js";

const dir = mkdtempSync(join(tmpdir(), "prices-"));
let files = 0;
function pricesFile(text: string): string {
  const path = join(dir, `prices-${files++}.yaml`);
  writeFileSync(path, text);
  return path;
}
const load = (path: string) => loadConfig({ ...BASE_ENV, KUBE_NODE_PRICES_FILE: path }).kube.prices;

describe("KUBE_NODE_PRICES_FILE", () => {
  it("is unset by default: no prices", () => {
    expect(loadConfig(BASE_ENV).kube.prices).toBeNull();
  });

  it("reads the currency and each instance type's hourly prices, with OpenCost's weights unless given", () => {
    const table = load(pricesFile("currency: USD\ninstanceTypes:\n  c5a.2xlarge: { onDemand: 0.308, spot: 0.1201 }\n  m7g.large:\n    onDemand: 0.0816\n"));
    expect(table).toEqual({
      currency: "USD",
      weights: OPENCOST_RESOURCE_WEIGHTS,
      instanceTypes: new Map([
        ["c5a.2xlarge", { onDemand: 0.308, spot: 0.1201 }],
        ["m7g.large", { onDemand: 0.0816, spot: null }],
      ]),
    });
    const weighted = load(pricesFile("currency: EUR\nresourceWeights: { cpuCoreHour: 3, memoryGiBHour: 1 }\ninstanceTypes: { n2-standard-8: { onDemand: 0.3885, spot: 0.0932 } }\n"));
    expect(weighted?.weights).toEqual({ cpuCoreHour: 3, memoryGiBHour: 1 });
  });

  it.each([
    ["a missing file", null, /KUBE_NODE_PRICES_FILE=".*missing\.yaml": expected a readable YAML price table \(ENOENT\)/],
    ["broken YAML", "currency: USD\ninstanceTypes: { c5: [\n", /expected a YAML price table/],
    ["no currency", "instanceTypes: { c5.large: { onDemand: 0.085 } }\n", /expected a price table with currency and instanceTypes: currency: /],
    ["a typo in a key", "currency: USD\ninstanceTypes: { c5.large: { ondemand: 0.085 } }\n", /instanceTypes\["c5\.large"\]/],
    ["a price in words", "currency: USD\ninstanceTypes: { c5.large: { onDemand: cheap } }\n", /instanceTypes\["c5\.large"\]\.onDemand/],
    ["a negative spot price", "currency: USD\ninstanceTypes: { c5.large: { onDemand: 0.085, spot: -1 } }\n", /instanceTypes\["c5\.large"\]\.spot/],
    ["no instance types", "currency: USD\ninstanceTypes: {}\n", /at least one instance type/],
    ["a zero weight", "currency: USD\nresourceWeights: { cpuCoreHour: 0, memoryGiBHour: 1 }\ninstanceTypes: { c5.large: { onDemand: 0.085 } }\n", /resourceWeights\.cpuCoreHour/],
    ["a list", "- c5.large\n", /\(the file\)/],
  ])("refuses %s in one line naming the setting", (_case, text, message) => {
    const path = text === null ? join(dir, "missing.yaml") : pricesFile(text);
    const error = configErrorOf(() => load(path));
    expect(error.setting).toBe("KUBE_NODE_PRICES_FILE");
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });
});

describe("KUBE_COST_COUNTERS", () => {
  const priced = () => pricesFile("currency: USD\ninstanceTypes:\n  c5a.2xlarge: { onDemand: 0.308, spot: 0.1201 }\n");
  const counting = (env: Record<string, string>) => loadConfig({ ...BASE_ENV, ...env }).kube.costCounters;

  it("counts, by default, exactly when there is a price table", () => {
    expect(counting({})).toBe(false);
    expect(counting({ KUBE_NODE_PRICES_FILE: priced() })).toBe(true);
  });

  it("counts the resource time without prices when true", () => {
    expect(counting({ KUBE_COST_COUNTERS: "true" })).toBe(true);
    expect(counting({ KUBE_COST_COUNTERS: "false" })).toBe(false);
  });

  it("refuses false beside a price table, naming the setting", () => {
    const error = configErrorOf(() => loadConfig({ ...BASE_ENV, KUBE_NODE_PRICES_FILE: priced(), KUBE_COST_COUNTERS: "false" }));
    expect(error.setting).toBe("KUBE_COST_COUNTERS");
    expect(error.message).toMatch(/^invalid configuration: KUBE_COST_COUNTERS=false: expected not false while KUBE_NODE_PRICES_FILE is set/);
  });

  it("refuses a value it does not know", () => {
    expect(configErrorOf(() => loadConfig({ ...BASE_ENV, KUBE_COST_COUNTERS: "maybe" })).setting).toBe("KUBE_COST_COUNTERS");
  });
});
