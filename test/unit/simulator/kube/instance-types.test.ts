import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { priceTableFrom } from "../../../../src/config/prices.js";
import { parseQuantity } from "../../../../src/domain/quantity.js";
import { buildSpotNode, INSTANCE_TYPES, nodeResources, simulatedPricesYaml } from "../../../../src/simulator/kube/index.js";

describe("the simulated instance types", () => {
  it("leave pods what EKS leaves them: 7910m of an 8-core m5.2xlarge, as a real node reports", () => {
    expect(nodeResources("m5.2xlarge")!.allocatable.cpu).toBe("7910m");
    expect(parseQuantity(nodeResources("m5.large")!.allocatable.cpu!)).toBe(1.93);
    const memory = parseQuantity(nodeResources("m5.2xlarge")!.allocatable.memory!)!;
    expect(32 * 2 ** 30 - memory).toBe((255 + 11 * 58 + 100) * 2 ** 20);
    expect(nodeResources("x9.huge")).toBeNull();
  });

  it("put them on the nodes built, unless a node is given its own", () => {
    expect(buildSpotNode({ name: "n", instanceType: "c5a.2xlarge" }).status!.allocatable).toEqual(nodeResources("c5a.2xlarge")!.allocatable);
    expect(buildSpotNode({ name: "n", instanceType: "c5a.2xlarge", allocatable: { cpu: "4", memory: "8Gi" } }).status!.allocatable).toEqual({ cpu: "4", memory: "8Gi" });
    expect(buildSpotNode({ name: "n", instanceType: "x9.huge" }).status!.allocatable).toBeUndefined();
  });

  it("price every type in a table the exporter reads, spot below on demand", () => {
    const table = priceTableFrom(parse(simulatedPricesYaml()), "simulated");
    expect([...table.instanceTypes.keys()].sort()).toEqual(Object.keys(INSTANCE_TYPES).sort());
    for (const price of table.instanceTypes.values()) expect(price.spot!).toBeLessThan(price.onDemand);
    expect(table.instanceTypes.get("c5a.2xlarge")).toEqual({ onDemand: 0.308, spot: 0.1201 });
  });
});
