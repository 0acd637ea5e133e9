import { describe, expect, it } from "vitest";
import { evaluateMixin } from "../../mixin/render.js";

interface Panel {
  type: string;
  title: string;
  description?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Array<{ expr: string }>;
}

async function costDashboard(overrides: Record<string, unknown> = {}): Promise<{ title: string; description: string; panels: Panel[] }> {
  const mixin = await evaluateMixin(overrides);
  return mixin.dashboards["gitlab-ci-cost.json"] as unknown as { title: string; description: string; panels: Panel[] };
}

const exprs = (panels: Panel[]) => panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

describe("the CI cost dashboard", () => {
  it("shows spend over time, the top projects, branches and jobs, the spot saving, the idle capacity and spend per job and pipeline", async () => {
    const { panels } = await costDashboard();
    const all = exprs(panels);
    const shows = (pattern: RegExp) => expect(all.some((e) => pattern.test(e)), String(pattern)).toBe(true);
    shows(/sum by \(capacity_type\) \(rate\(gitlab_ci_job_cost_total\{[^}]*project=~"\$project"\}\[\$__rate_interval\]\)\) \* 3600/);
    for (const by of ["project", "project, ref", "project, job_name"]) shows(new RegExp(`^topk\\(10, sum by \\(${by}\\) \\(`));
    shows(/gitlab_ci_job_on_demand_cost_total\{[^}]*capacity_type="spot"\}/);
    shows(/job_project:gitlab_ci_job_spot_saving:increase1h\{/);
    shows(/gitlab_ci_node_idle_cost_total\{[^}]*nodegroup=~"\$nodegroup"\}/);
    shows(/job_nodegroup_capacity_type:gitlab_ci_node_idle:ratio1h\{/);
    shows(/gitlab_ci_jobs_finished_total\{[^}]*status="success"\}/);
    shows(/count by \(project, pipeline_id\) \(max_over_time\(gitlab_ci_job_pod_info\{[^}]*pipeline_id!=""\}\[\$__range\]\)\)/);
    shows(/gitlab_ci_nodes_unpriced\{/);
  }, 60_000);

  it("counts money in the price table's currency: a _config switch names it and sets the panels' unit", async () => {
    const usd = await costDashboard();
    const moneyUnits = (panels: Panel[]) => new Set(panels.filter((p) => p.type !== "row" && !/share|without a price/i.test(p.title)).map((p) => p.fieldConfig?.defaults?.unit));
    expect(moneyUnits(usd.panels)).toEqual(new Set(["currencyUSD"]));
    expect(usd.description).toContain("in USD");
    const eur = await costDashboard({ costCurrency: "EUR" });
    expect(moneyUnits(eur.panels)).toEqual(new Set(["currencyEUR"]));
    expect(eur.panels.find((p) => p.type === "row")!.title).toBe("Spend (EUR)");
    const credits = await costDashboard({ costCurrency: "credits", costUnit: "suffix: credits" });
    expect(moneyUnits(credits.panels)).toEqual(new Set(["suffix: credits"]));
    // The window of the recording rules follows its setting into the panels that read them.
    const daily = await costDashboard({ costWindow: "1d" });
    expect(exprs(daily.panels).some((e) => e.includes("job_project_ref:gitlab_ci_job_cost:increase1d{"))).toBe(true);
  }, 120_000);
});
