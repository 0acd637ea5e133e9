import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exporterFamilyNames, renderReadme } from "../../../../scripts/docs/reference.js";
import { SETTINGS } from "../../../../src/config/settings.js";

const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");

describe("README references", () => {
  it("are up to date with the settings table and the registry (run `npm run docs`)", () => {
    expect(renderReadme(readme)).toBe(readme);
  });

  it("list every setting and every family, and nothing else", () => {
    const documentedSettings = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documentedSettings.sort()).toEqual(SETTINGS.map((s) => s.name).sort());
    const documentedFamilies = [...readme.matchAll(/^\| `(gitlab_ci_[a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documentedFamilies.sort()).toEqual(exporterFamilyNames());
  });
});

describe("the README's worked PromQL", () => {
  it("for the minutes of CI waited for capacity is what test/promtool/readme.test.yaml evaluates", () => {
    const block = /^## Why jobs wait$[\s\S]*?```promql\n([\s\S]*?)```/m.exec(readme)![1]!;
    const queries = block.split("\n\n").map((q) => q.split("\n").filter((line) => !line.startsWith("#")).join("\n").trim());
    const tested = (parse(readFileSync(new URL("../../../promtool/readme.test.yaml", import.meta.url), "utf8")) as { tests: Array<{ promql_expr_test: Array<{ expr: string }> }> }).tests.flatMap((t) =>
      t.promql_expr_test.map((e) => e.expr.trim()),
    );
    expect(tested).toHaveLength(2);
    for (const expr of tested) expect(queries).toContain(expr);
  });
});
