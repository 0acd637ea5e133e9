import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");

describe("the README's cost section", () => {
  it("joins OpenCost with exactly the queries test/promtool/cost-readme.test.yaml evaluates", () => {
    const block = /^### Joining OpenCost instead$[\s\S]*?```promql\n([\s\S]*?)```/m.exec(readme)![1]!;
    const queries = block.split("\n\n").map((q) => q.split("\n").filter((line) => !line.startsWith("#")).join("\n").trim());
    const file = parse(readFileSync(new URL("../../../promtool/cost-readme.test.yaml", import.meta.url), "utf8")) as { tests: Array<{ promql_expr_test: Array<{ expr: string }> }> };
    const tested = file.tests.flatMap((t) => t.promql_expr_test.map((e) => e.expr.trim()));
    expect(tested).toEqual(queries);
  });

  it("shows a price table the exporter accepts, with the keys the issue names", () => {
    const yaml = /^### Filling the price table$[\s\S]*?```yaml\n([\s\S]*?)```/m.exec(readme)![1]!;
    const table = parse(yaml) as { currency: string; instanceTypes: Record<string, { onDemand: number; spot?: number }> };
    expect(table.currency).toBe("USD");
    expect(table.instanceTypes["c5a.2xlarge"]).toEqual({ onDemand: 0.308, spot: 0.1201 });
  });
});
