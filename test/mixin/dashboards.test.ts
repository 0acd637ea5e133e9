import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluateMixin, ROOT, type RenderedMixin } from "../../mixin/render.js";

interface Link {
  title: string;
  type: string;
  url?: string;
  tags: string[];
  includeVars: boolean;
  keepTime: boolean;
}
interface Override {
  matcher: { id: string; options: string };
  properties: Array<{ id: string; value: unknown }>;
}
interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  links?: Link[];
  fieldConfig?: { defaults: { unit?: string; decimals?: number }; overrides: Override[] };
  transformations?: Array<{ id: string; options: { renameByName?: Record<string, string> } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  links: Link[];
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

let mixin: RenderedMixin;
beforeAll(async () => {
  mixin = await evaluateMixin();
});

const dashboardsOf = (rendered: RenderedMixin) => Object.values(rendered.dashboards) as unknown as Dashboard[];
const panelsOf = (d: Dashboard) => d.panels.filter((p) => p.type !== "row");

/** The column name a table gives target `index` (its renamed `Value #X`), or undefined. */
function column(panel: Panel, index: number): string | undefined {
  const rename = panel.transformations?.find((t) => t.id === "organize")?.options.renameByName ?? {};
  return rename[`Value #${String.fromCharCode(65 + index)}`];
}

function decimalsOf(panel: Panel, index: number): number | undefined {
  const name = column(panel, index);
  const override = panel.fieldConfig?.overrides.find((o) => o.matcher.options === name)?.properties.find((p) => p.id === "decimals");
  return (override?.value as number | undefined) ?? panel.fieldConfig?.defaults.decimals;
}

function unitOf(panel: Panel, index: number): string | undefined {
  const name = column(panel, index);
  const override = panel.fieldConfig?.overrides.find((o) => o.matcher.options === name)?.properties.find((p) => p.id === "unit");
  return (override?.value as string | undefined) ?? panel.fieldConfig?.defaults.unit;
}

describe("dashboard variables", () => {
  it("have one per group label, after the data source, each narrowed by those before it", async () => {
    for (const [groupLabels, expected] of [
      ["job", ["job"]],
      ["cluster, job", ["cluster", "job"]],
    ] as const) {
      const rendered = groupLabels === "job" ? mixin : await evaluateMixin({ groupLabels });
      for (const d of dashboardsOf(rendered)) {
        const names = d.templating.list.map((v) => v.name);
        expect(names.slice(0, expected.length + 1), `${d.uid} with ${groupLabels}`).toEqual(["datasource", ...expected]);
        const queries = d.templating.list.slice(1, expected.length + 1).map((v) => (v.query as { query: string }).query);
        expect(queries[0]).toBe(`label_values(up{job="gitlab-ci-k8s-exporter"}, ${expected[0]})`);
        if (expected.length === 2) expect(queries[1]).toBe(`label_values(up{job="gitlab-ci-k8s-exporter", ${expected[0]}=~"$${expected[0]}"}, ${expected[1]})`);
      }
    }
  }, 60_000);

  it("narrow every panel query to the deployments the group variables select", async () => {
    const rendered = await evaluateMixin({ groupLabels: "cluster, job" });
    const unfiltered = dashboardsOf(rendered).flatMap((d) =>
      panelsOf(d).flatMap((p) => (p.targets ?? []).filter((t) => !t.expr.includes('cluster=~"$cluster"') || !t.expr.includes('job=~"$job"')).map(() => `${d.title} / ${p.title}`)),
    );
    expect(unfiltered).toEqual([]);
  }, 60_000);
});

describe("counts", () => {
  it("are whole numbers: a count over the time range is rounded and shown without decimals", () => {
    const counts: string[] = [];
    for (const d of dashboardsOf(mixin)) {
      for (const p of panelsOf(d).filter((x) => x.type === "stat" || x.type === "table")) {
        (p.targets ?? []).forEach((t, i) => {
          const unit = unitOf(p, i);
          // A count: read over the time range, not a quantile, a ratio, a duration, bytes or money.
          if (!t.expr.includes("[$__range]") || /histogram_quantile|\n\/\n|max_over_time/.test(t.expr) || ["s", "bytes", "percentunit"].includes(unit ?? "") || (unit ?? "").startsWith("currency")) return;
          const where = `${d.title} / ${p.title}${column(p, i) ? ` / ${column(p, i)}` : ""}`;
          counts.push(where);
          expect(t.expr, where).toMatch(/^round\(/);
          expect(decimalsOf(p, i), where).toBe(0);
        });
      }
    }
    // The check sees the counts it is about.
    expect(counts).toEqual(
      expect.arrayContaining([
        "GitLab CI / Image builds / Builds in range",
        "GitLab CI / Image builds / Failed builds in range",
        "GitLab CI / Image builds / Build time by project and builder / Builds",
        "GitLab CI / Spot fleet / Removed in range",
        "GitLab CI / Spot fleet / Lifetime by reason / Removed",
        "GitLab CI / Spot fleet / Interrupted job pods by project and reason",
        "GitLab CI / Overview / System failures by project, reason and runner",
      ]),
    );
  });
});

describe("links", () => {
  it("lead from every dashboard to the others, keeping the time range and the variables, and to the runbooks", () => {
    for (const d of dashboardsOf(mixin)) {
      expect(d.links.find((l) => l.type === "dashboards"), d.uid).toMatchObject({ tags: ["gitlab-ci", "gitlab-ci-k8s-exporter"], includeVars: true, keepTime: true });
      expect(d.links.find((l) => l.title === "Runbooks")?.url, d.uid).toBe("https://github.com/gitlab-ci-k8s-exporter/gitlab-ci-k8s-exporter/blob/main/docs/runbooks.md");
    }
  });

  it("lead from the panels an alert is about to its runbook section, and panel links to dashboards that exist", async () => {
    const runbooks = await readFile(path.join(ROOT, "docs/runbooks.md"), "utf8");
    const anchors = new Set([...runbooks.matchAll(/^## (\S+)/gm)].map((m) => m[1]!.toLowerCase()));
    const uids = new Set(dashboardsOf(mixin).map((d) => d.uid));
    const linked = new Set<string>();
    for (const d of dashboardsOf(mixin)) {
      for (const link of panelsOf(d).flatMap((p) => p.links ?? [])) {
        const runbook = /runbooks\.md#(\w+)$/.exec(link.url ?? "");
        if (runbook) {
          expect(anchors.has(runbook[1]!), link.url).toBe(true);
          linked.add(runbook[1]!);
        } else {
          expect(uids.has(/^\/d\/([\w-]+)$/.exec(link.url ?? "")?.[1] ?? ""), `${d.uid}: ${link.url}`).toBe(true);
          expect(link, link.url).toMatchObject({ includeVars: true, keepTime: true });
        }
      }
    }
    const alerts = mixin.alerts.groups.flatMap((g) => g.rules).map((r) => String(r.alert).toLowerCase());
    expect(alerts.filter((a) => !linked.has(a))).toEqual([]);
  });
});
