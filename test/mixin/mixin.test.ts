import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Jsonnet } from "@hanazuki/node-jsonnet";
import ts from "typescript";
import { parse, stringify } from "yaml";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { evaluateMixin, mixinFiles, PROMETHEUS_RULE_PATH, ROOT, type RenderedMixin } from "../../mixin/render.js";
import { exporterFamilies } from "../../scripts/docs/reference.js";
import { REMOVAL_REASONS } from "../../src/domain/node.js";
import { metricNames } from "./promql-names.js";

// promtool and jsonnet run whole rule sets here: on a loaded 2-core machine a test takes well over
// the suite's 30 s default, which guards against hangs, not speed.
vi.setConfig({ testTimeout: 120_000 });

const run = promisify(execFile);

/** Series read by the mixin that other exporters produce. */
const EXTERNAL_METRICS = {
  // Prometheus itself, per scrape target.
  up: "prometheus",
  scrape_duration_seconds: "prometheus",
  // The kubelet's cAdvisor endpoint.
  container_cpu_usage_seconds_total: "cadvisor",
  container_memory_working_set_bytes: "cadvisor",
  // kube-state-metrics: the job pods' requests and limits.
  kube_pod_container_resource_requests: "kube-state-metrics",
  kube_pod_container_resource_limits: "kube-state-metrics",
} as const;

interface PromtoolTestFile {
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] | null }>;
    promql_expr_test?: Array<{ expr: string; exp_samples?: unknown[] | null }>;
  }>;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource: { uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { uid: string } }> };
}

let mixin: RenderedMixin;
beforeAll(async () => {
  mixin = await evaluateMixin();
});

async function committed(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of (await readdir(path.join(ROOT, dir))).filter((n) => /\.(yaml|json)$/.test(n))) {
    files.set(`${dir}/${name}`, await readFile(path.join(ROOT, dir, name), "utf8"));
  }
  return files;
}

function ruleExpressions(): Array<{ name: string; expr: string }> {
  return [...mixin.alerts.groups, ...mixin.rules.groups].flatMap((group) =>
    group.rules.map((rule) => ({ name: String(rule.alert ?? rule.record), expr: String(rule.expr) })),
  );
}

/** The PromQL of the queries alert annotations run (printf `...` $labels.x | query), a group's values filled in. */
function annotationQueries(rendered: RenderedMixin): Array<{ name: string; expr: string }> {
  return rendered.alerts.groups.flatMap((group) =>
    group.rules.flatMap((rule) =>
      Object.values(rule.annotations as Record<string, string>).flatMap((text) =>
        [...text.matchAll(/printf `([^`]*)`[^|}]*\| query/g)].map((m) => ({ name: `${String(rule.alert)} annotations`, expr: m[1]!.replaceAll("%q", '"x"') })),
      ),
    ),
  );
}

/** Runs `use` with the rendered rule files written to a temporary directory. */
async function withRuleFiles<T>(rendered: RenderedMixin, use: (dir: string, files: string[]) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), "mixin-rules-"));
  try {
    const contents = mixinFiles(rendered);
    const files = ["gitlab-ci-alerts.yaml", "gitlab-ci-rules.yaml"].map((name) => path.join(dir, name));
    await Promise.all(files.map((file) => writeFile(file, contents.get(`rules/${path.basename(file)}`)!)));
    return await use(dir, files);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The labels of the series an alert's expression gives: absent()'s equality matchers, the `by` of
 * its first aggregation, a recorded series' own, or, for a plain selector (`up{...} == 0`), those
 * of the scraped series. Enough for the mixin's expressions, not for PromQL at large.
 */
function carriedLabels(expr: string, recorded: ReadonlyMap<string, string>, scraped: readonly string[]): string[] {
  const absent = /^absent\(\w+\{([^}]*)\}\)$/.exec(expr.trim());
  if (absent) return [...absent[1]!.matchAll(/(\w+)\s*=\s*"/g)].map((m) => m[1]!);
  const by = /\b(?:sum|min|max|avg|count) by \(([^)]*)\)/.exec(expr);
  if (by) return by[1]!.split(",").map((label) => label.trim()).filter(Boolean);
  const first = /^[a-zA-Z_:][\w:]*/.exec(expr.trim())?.[0] ?? "";
  return recorded.has(first) ? carriedLabels(recorded.get(first)!, recorded, scraped) : [...scraped];
}

function dashboards(): Dashboard[] {
  return Object.values(mixin.dashboards) as unknown as Dashboard[];
}

function dashboardQueries(): Array<{ where: string; expr: string }> {
  return dashboards().flatMap((d) => [
    ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${d.title} / ${p.title}`, expr: t.expr }))),
    ...d.templating.list
      .filter((v) => v.type === "query")
      .map((v) => ({ where: `${d.title} / $${v.name}`, expr: (v.query as { query: string }).query })),
  ]);
}

describe("the generated rules/ and dashboards/", () => {
  it("are exactly what npm run mixin renders from mixin/", async () => {
    const expected = mixinFiles(mixin);
    const chart = "deploy/helm/gitlab-ci-k8s-exporter/files";
    const actual = new Map([...(await committed("rules")), ...(await committed("dashboards")), ...(await committed(`${chart}/rules`)), ...(await committed(`${chart}/dashboards`))]);
    actual.set(PROMETHEUS_RULE_PATH, await readFile(path.join(ROOT, PROMETHEUS_RULE_PATH), "utf8"));
    expect([...actual.keys()].sort(), "run `npm run mixin` and commit the result").toEqual([...expected.keys()].sort());
    for (const [file, content] of expected) expect(actual.get(file), `${file} drifted from mixin/: run \`npm run mixin\``).toBe(content);
  });

  it("pass promtool check rules", async () => {
    const files = [...(await committed("rules")).keys()].map((f) => path.join(ROOT, f));
    const { stdout } = await run("promtool", ["check", "rules", ...files]);
    expect(stdout).toContain("SUCCESS");
  });

  it("pass the promtool unit tests of every alert and recording rule", async () => {
    const dir = path.join(ROOT, "test/promtool");
    const tests = (await readdir(dir)).filter((n) => n.endsWith(".test.yaml")).map((n) => path.join(dir, n));
    const { stdout } = await run("promtool", ["test", "rules", ...tests]);
    expect(stdout).not.toContain("FAILED");
  });

  it("have promtool unit tests that see every alert fire and not fire, and evaluate every recording rule", async () => {
    const dir = path.join(ROOT, "test/promtool");
    const files = (await readdir(dir)).filter((n) => n.endsWith(".test.yaml"));
    const groups = (await Promise.all(files.map(async (n) => parse(await readFile(path.join(dir, n), "utf8")) as PromtoolTestFile))).flatMap((f) => f.tests);
    const alertTests = groups.flatMap((g) => g.alert_rule_test ?? []);
    const exprTests = groups.flatMap((g) => g.promql_expr_test ?? []);
    for (const rule of mixin.alerts.groups.flatMap((g) => g.rules)) {
      const name = String(rule.alert);
      const evals = alertTests.filter((t) => t.alertname === name);
      expect(evals.some((t) => (t.exp_alerts ?? []).length > 0), `${name} is never expected to fire`).toBe(true);
      expect(evals.some((t) => (t.exp_alerts ?? []).length === 0), `${name} is never expected not to fire`).toBe(true);
    }
    for (const rule of mixin.rules.groups.flatMap((g) => g.rules)) {
      const name = String(rule.record);
      const evaluated = exprTests.filter((t) => t.expr.trim() === name || t.expr.trim().startsWith(`${name}{`));
      expect(evaluated.some((t) => (t.exp_samples ?? []).length > 0), `${name} is the expr of no promql_expr_test with samples`).toBe(true);
    }
  });
});

describe("metric names in rules and dashboards", () => {
  it("are found by the lexer, which tells functions, keywords, labels and variables from names", () => {
    expect(
      metricNames('sum by (job, project) (rate(gitlab_ci_jobs_finished_total{job="x", a=~"b|c"}[$__rate_interval])) / on (job) group_left (a) max by (a) (up{job="y"}) > 0.05 and time() - foo:bar:baz offset 5m'),
    ).toEqual(["foo:bar:baz", "gitlab_ci_jobs_finished_total", "up"]);
    expect(metricNames('label_values(gitlab_ci_spot_nodes{job="x"}, nodegroup)')).toEqual(["gitlab_ci_spot_nodes"]);
    expect(metricNames("histogram_quantile(0.9, sum by (le) (rate(gitlab_ci_job_duration_secnds_bucket[5m])))")).toEqual(["gitlab_ci_job_duration_secnds_bucket"]);
  });

  it("are each exported by the exporter, recorded by the mixin, or a named external metric", () => {
    const exported = new Set(
      exporterFamilies().flatMap((f) => (f.type === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => f.name + s) : [f.name])),
    );
    const recorded = new Set(mixin.rules.groups.flatMap((g) => g.rules.map((r) => String(r.record))));
    const known = (name: string) => exported.has(name) || recorded.has(name) || name in EXTERNAL_METRICS;
    const unknown = [...[...ruleExpressions(), ...annotationQueries(mixin)].map((r) => ({ where: r.name, expr: r.expr })), ...dashboardQueries()].flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !known(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
    // And every name the lexer found somewhere is used: the external list holds nothing stale.
    const used = new Set([...ruleExpressions(), ...annotationQueries(mixin), ...dashboardQueries()].flatMap(({ expr }) => metricNames(expr)));
    for (const name of Object.keys(EXTERNAL_METRICS)) expect(used.has(name), name).toBe(true);
  });
});

describe("alerts", () => {
  it("carry a GitLabCI name, a severity, a summary, a templated description and a runbook link", async () => {
    const runbooks = await readFile(path.join(ROOT, "docs/runbooks.md"), "utf8");
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    const anchors = new Set([...runbooks.matchAll(/^## (\S+)/gm)].map((m) => m[1]!.toLowerCase()));
    const alerts = mixin.alerts.groups.flatMap((g) => g.rules) as Array<{ alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }>;
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const rule of alerts) {
      expect(rule.alert).toMatch(/^GitLabCI[A-Z][A-Za-z]+$/);
      expect(["critical", "warning", "info"]).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).not.toContain("{{");
      // An absent() alert has no value, and no labels but its selector's: it names the selector.
      if (rule.expr.startsWith("absent(")) expect(rule.annotations.description, rule.alert).toContain(rule.expr.slice("absent(".length, -1));
      else expect(rule.annotations.description, rule.alert).toContain("{{");
      expect(rule.annotations.runbook_url).toBe(`https://github.com/gitlab-ci-k8s-exporter/gitlab-ci-k8s-exporter/blob/main/docs/runbooks.md#${rule.alert.toLowerCase()}`);
      expect(anchors.has(rule.alert.toLowerCase()), `docs/runbooks.md has no section for ${rule.alert}`).toBe(true);
      expect(readme, `the README's Alerting table misses ${rule.alert}`).toContain(`| \`${rule.alert}\` | ${rule.labels.severity} |`);
    }
  });

  it("each have a runbook section saying what the alert means and the first three things to check", async () => {
    const runbooks = await readFile(path.join(ROOT, "docs/runbooks.md"), "utf8");
    const sections = new Map(
      runbooks
        .split(/^## /m)
        .slice(1)
        .map((section) => [section.slice(0, section.indexOf("\n")).trim(), section] as const),
    );
    for (const rule of mixin.alerts.groups.flatMap((g) => g.rules)) {
      const name = String(rule.alert);
      const section = sections.get(name) ?? "";
      expect(section, `${name}: What it means`).toMatch(/^\*\*What it means\.\*\* \S/m);
      const checks = section.split(/^\*\*First three things to check\.\*\*$/m)[1] ?? "";
      expect([...checks.matchAll(/^(\d)\. \S/gm)].map((m) => m[1]), `${name}: first three things to check`).toEqual(["1", "2", "3"]);
    }
  });

  it("count interrupted job pods over every node removal reason the exporter records, only those, and break the count down by them", () => {
    const spot = mixin.alerts.groups.flatMap((g) => g.rules).find((r) => r.alert === "GitLabCISpotInterruptionsTakingJobs")!;
    const reasons = (text: string) => [...text.matchAll(/reason=~"([^"]+)"/g)].map((m) => m[1]!.split("|").sort());
    const removals = [...REMOVAL_REASONS].sort();
    expect(reasons(String(spot.expr))).toEqual([removals]);
    expect(reasons((spot.annotations as Record<string, string>).description!)).toEqual([removals]);
    // The recorded series it reads keeps every reason, pod-level ones included.
    const record = /\bjob_reason:[\w:]+/.exec(String(spot.expr))![0];
    const recorded = mixin.rules.groups.flatMap((g) => g.rules).find((r) => r.record === record)!;
    expect(String(recorded.expr)).not.toContain("reason=");
  });

  it("name the deployment by the group labels users set, and refer only to labels the alert carries", async () => {
    const byDefault = new Map(mixin.alerts.groups.flatMap((g) => g.rules).map((r) => [String(r.alert), r.annotations as Record<string, string>]));
    for (const groupLabels of [["cluster", "job"], ["cluster"]]) {
      const custom = await evaluateMixin({ groupLabels: groupLabels.join(", ") });
      const recorded = new Map(custom.rules.groups.flatMap((g) => g.rules).map((r) => [String(r.record), String(r.expr)]));
      for (const rule of custom.alerts.groups.flatMap((g) => g.rules) as Array<{ alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }>) {
        const where = `${rule.alert} grouped by ${groupLabels.join(", ")}`;
        const carried = new Set([...carriedLabels(rule.expr, recorded, [...groupLabels, "instance"]), ...Object.keys(rule.labels)]);
        const referenced = Object.values(rule.annotations).flatMap((text) => [...text.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]!));
        expect(referenced.filter((label) => !carried.has(label)), where).toEqual([]);
        // Where the default names its group (the job label), the override names its own.
        if (byDefault.get(rule.alert)!.description!.includes("$labels.job")) {
          for (const label of groupLabels) expect(rule.annotations.description, where).toContain(`{{ $labels.${label} }}`);
        }
      }
      // Prometheus loads them, templates included, and the queries of the annotations parse.
      const queries = annotationQueries(custom);
      expect(queries.length).toBeGreaterThan(0);
      await withRuleFiles(custom, async (dir, files) => {
        const queryFile = path.join(dir, "annotation-queries.yaml");
        await writeFile(queryFile, stringify({ groups: [{ name: "annotations", rules: queries.map((q, i) => ({ record: `annotation:query_${i}:check`, expr: q.expr })) }] }));
        const { stdout } = await run("promtool", ["check", "rules", ...files, queryFile]);
        expect(stdout).not.toContain("FAILED");
        expect(stdout).toContain(`SUCCESS: ${queries.length} rules found`);
      });
    }
    // The check can fail: an alert that keeps only job cannot name the cluster.
    expect(carriedLabels('sum by (job) (gitlab_ci_jobs_pending{job="x"}) > 20', new Map(), ["cluster", "job", "instance"])).toEqual(["job"]);
    expect(carriedLabels('absent(up{job="x", namespace=~"ci"})', new Map(), [])).toEqual(["job"]);
    // Two evaluations of the mixin and two promtool runs: slow on a loaded machine.
  }, 90_000);

  it("break interruptions down and show the failure ratio of the alert's own group only", async () => {
    const custom = await evaluateMixin({ groupLabels: "cluster, job" });
    // eu loses 12 job pods to spot interruptions, 1 job in 11 failing; us 2 to a scale-down, 1 in 4.
    const series = (name: string, cluster: string, labels: string) => `${name}{job="gitlab-ci-k8s-exporter", cluster="${cluster}", instance="a"${labels}}`;
    const interrupted = (cluster: string, reason: string) => series("gitlab_ci_job_pods_interrupted_total", cluster, `, project="acme/api", reason="${reason}"`);
    const finished = (cluster: string, status: string, reason: string) => series("gitlab_ci_jobs_finished_total", cluster, `, project="acme/api", status="${status}", failure_reason="${reason}", runner="r1"`);
    const test = {
      rule_files: ["gitlab-ci-rules.yaml", "gitlab-ci-alerts.yaml"],
      evaluation_interval: "1m",
      group_eval_order: ["gitlab-ci-jobs.rules", "gitlab-ci-job-resources.rules", "gitlab-ci.alerts", "gitlab-ci-exporter.alerts"],
      tests: [
        {
          interval: "1m",
          input_series: [
            { series: series("up", "eu", ""), values: "1x30" },
            { series: series("up", "us", ""), values: "1x30" },
            { series: interrupted("eu", "spot_interruption"), values: "_x20 12x10" },
            { series: interrupted("us", "autoscaler_scale_down"), values: "_x20 2x10" },
            { series: finished("eu", "success", ""), values: "0+10x30" },
            { series: finished("eu", "failed", "runner_system_failure"), values: "0+1x30" },
            { series: finished("us", "success", ""), values: "0+3x30" },
            { series: finished("us", "failed", "runner_system_failure"), values: "0+1x30" },
          ],
          alert_rule_test: [
            {
              eval_time: "25m",
              alertname: "GitLabCISpotInterruptionsTakingJobs",
              exp_alerts: [
                {
                  exp_labels: { severity: "info", cluster: "eu", job: "gitlab-ci-k8s-exporter" },
                  exp_annotations: {
                    summary: "Node removals are taking running CI jobs down.",
                    description:
                      "12 job pods were taken down by node removals over the last 15m in eu/gitlab-ci-k8s-exporter (12 spot_interruption). GitLab fails such jobs as runner_system_failure: 9.091% of the jobs finished there over the last 10m failed with a system failure reason (GitLabCISystemFailureRatioHigh pages above 5%).",
                    runbook_url: "https://github.com/gitlab-ci-k8s-exporter/gitlab-ci-k8s-exporter/blob/main/docs/runbooks.md#gitlabcispotinterruptionstakingjobs",
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    await withRuleFiles(custom, async (dir) => {
      const file = path.join(dir, "grouping.test.yaml");
      await writeFile(file, stringify(test));
      const result = await run("promtool", ["test", "rules", file]).catch((error: { stdout: string }) => error);
      expect(result.stdout).toContain("SUCCESS");
    });
  });

  it("follow the _config overrides users set", async () => {
    const custom = await evaluateMixin({
      pendingJobsThreshold: 7,
      pendingJobsFor: "3m",
      exporterSelector: 'job="ci-exporter"',
      exporterInstanceLabels: "instance, pod, pod_template_hash",
      cadvisorSelector: 'job="kubernetes-cadvisor"',
      kubeStateMetricsSelector: 'job="kubernetes-service-endpoints", app_kubernetes_io_name="kube-state-metrics"',
    });
    const pending = custom.alerts.groups.flatMap((g) => g.rules).find((r) => r.alert === "GitLabCIPendingJobsHigh")!;
    expect(pending.expr).toBe('sum by (job) (max without (instance, pod, pod_template_hash) (gitlab_ci_jobs_pending{job="ci-exporter"})) > 7');
    expect(pending.for).toBe("3m");
    // Every selector of every query follows: none of the defaults is left.
    const exprs = [...custom.rules.groups, ...custom.alerts.groups].flatMap((g) => g.rules.map((r) => String(r.expr)));
    const queries = Object.values(custom.dashboards).flatMap((d) => JSON.stringify(d).match(/"expr":"(?:[^"\\]|\\.)*"/g) ?? []);
    for (const text of [...exprs, ...queries]) {
      for (const stale of ['job="gitlab-ci-k8s-exporter"', 'job="kubelet"', 'job="kube-state-metrics"']) expect(text).not.toContain(stale);
    }
    expect(exprs.join("\n")).toContain('container_cpu_usage_seconds_total{job="kubernetes-cadvisor"');
    expect(exprs.join("\n")).toContain('kube_pod_container_resource_requests{job="kubernetes-service-endpoints", app_kubernetes_io_name="kube-state-metrics"');
  });
});

describe("dashboards", () => {
  it("type-check against @grafana/schema's Dashboard type", () => {
    const source = [
      'import type { Dashboard } from "@grafana/schema";',
      // JSON holds an enum's value, not the enum: compare string enums by their literal values.
      "type AsJson<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? AsJson<U>[] : T extends object ? { [K in keyof T]: AsJson<T[K]> } : T;",
      ...Object.entries(mixin.dashboards).map(([name, d], i) => `// ${name}\nexport const dashboard${i}: AsJson<Dashboard> = ${JSON.stringify(d)};`),
    ].join("\n");
    const file = path.join(ROOT, "test/mixin/__dashboards__.ts");
    const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] };
    const host = ts.createCompilerHost(options);
    const readFileOnDisk = host.readFile.bind(host);
    host.readFile = (name) => (path.resolve(name) === file ? source : readFileOnDisk(name));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
    const program = ts.createProgram([file], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diagnostics).toEqual([]);
    // The check can fail: a wrong field type is reported.
    const broken = source.replace('"schemaVersion":39', '"schemaVersion":"39"');
    host.readFile = (name) => (path.resolve(name) === file ? broken : readFileOnDisk(name));
    expect(ts.getPreEmitDiagnostics(ts.createProgram([file], options, host)).length).toBeGreaterThan(0);
  });

  it("each have a stable uid, a GitLab CI title, tags, and a datasource variable every panel and query uses", () => {
    const list = dashboards();
    expect(list.map((d) => d.uid).sort()).toEqual(["gitlab-ci-cost", "gitlab-ci-image-builds", "gitlab-ci-job-resources", "gitlab-ci-overview", "gitlab-ci-spot-fleet"]);
    expect(list.map((d) => d.title).sort()).toEqual(["GitLab CI / CI cost", "GitLab CI / Image builds", "GitLab CI / Job resources", "GitLab CI / Overview", "GitLab CI / Spot fleet"]);
    for (const d of list) {
      expect(d.tags).toContain("gitlab-ci");
      expect(d.templating.list[0]).toMatchObject({ name: "datasource", type: "datasource", query: "prometheus" });
      for (const v of d.templating.list.filter((x) => x.type === "query")) expect(v.datasource?.uid, `${d.title} $${v.name}`).toBe("${datasource}");
      const panels = d.panels.filter((p) => p.type !== "row");
      expect(panels.length).toBeGreaterThan(4);
      expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
      for (const p of panels) {
        expect(p.datasource?.uid, `${d.title} / ${p.title}`).toBe("${datasource}");
        expect(p.targets?.length, `${d.title} / ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets!) expect(t.datasource.uid, `${d.title} / ${p.title}`).toBe("${datasource}");
      }
    }
  });

  it("hold panel queries that parse as PromQL once Grafana fills in its variables", async () => {
    const filled = (expr: string) =>
      expr
        .replaceAll("$__rate_interval", "2m")
        .replaceAll("$__range", "6h")
        .replace(/\$\w+/g, ".*");
    const panelQueries = dashboardQueries().filter((q) => !q.expr.startsWith("label_values("));
    const rules = { groups: [{ name: "dashboards", rules: panelQueries.map((q, i) => ({ record: `dashboard:query_${i}:check`, expr: filled(q.expr) })) }] };
    const dir = await mkdtemp(path.join(tmpdir(), "dashboard-queries-"));
    try {
      const file = path.join(dir, "queries.yaml");
      await writeFile(file, stringify(rules));
      const { stdout } = await run("promtool", ["check", "rules", file]);
      expect(stdout).toContain(`SUCCESS: ${panelQueries.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("use $__rate_interval in every rate, and no fixed range anywhere", () => {
    for (const { where, expr } of dashboardQueries()) {
      for (const m of expr.matchAll(/\b(rate|irate|increase)\s*\([^[]*\[([^\]]*)\]/g)) {
        const allowed = m[1] === "increase" ? ["$__rate_interval", "$__range"] : ["$__rate_interval"];
        expect(allowed, `${where}: ${m[0]}`).toContain(m[2]);
      }
      for (const m of expr.matchAll(/\[([^\]]*)\]/g)) expect(m[1], `${where}: ${expr}`).toMatch(/^\$__(rate_interval|range)$/);
    }
    const ratePanels = dashboardQueries().filter((q) => /\brate\(/.test(q.expr));
    expect(ratePanels.length).toBeGreaterThan(10);
  });

  it("show what each dashboard is for", () => {
    const exprs = (uid: string) => dashboards().find((d) => d.uid === uid)!.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const shows = (uid: string, pattern: RegExp) => expect(exprs(uid).some((e) => pattern.test(e)), `${uid}: ${pattern}`).toBe(true);
    shows("gitlab-ci-overview", /sum by \(project\) \(max without \(instance, pod\) \(gitlab_ci_jobs_running\{/);
    shows("gitlab-ci-overview", /sum by \(project\) \(max without \(instance, pod\) \(gitlab_ci_jobs_pending\{/);
    shows("gitlab-ci-overview", /\bup\{/);
    // Where jobs wait: the queue, pods waiting for a node, pods creating containers; startups cold against warm.
    shows("gitlab-ci-overview", /sum\(max without \(instance, pod\) \(gitlab_ci_job_pods_waiting\{[^}]*reason=~"unschedulable\|scheduling"\}\)\)/);
    shows("gitlab-ci-overview", /sum\(max without \(instance, pod\) \(gitlab_ci_job_pods_waiting\{[^}]*reason=~"container_creating"\}\)\)/);
    for (const kind of ["startup", "scheduling"]) {
      for (const q of ["0.5", "0.9"]) shows("gitlab-ci-overview", new RegExp(`histogram_quantile\\(${q}, sum by \\(le, nodegroup, new_node\\) \\(rate\\(gitlab_ci_job_pod_${kind}_duration_seconds_bucket\\{`));
    }
    for (const by of ["project", "builder"]) {
      for (const q of ["0.5", "0.9", "0.99"]) shows("gitlab-ci-image-builds", new RegExp(`histogram_quantile\\(${q}, sum by \\(le, ${by}\\) \\(rate\\(gitlab_ci_image_build_duration_seconds_bucket\\{`));
    }
    shows("gitlab-ci-image-builds", /rate\(gitlab_ci_image_build_duration_seconds_count\{/);
    shows("gitlab-ci-image-builds", /gitlab_ci_image_build_duration_seconds_count\{[^}]*result="failure"/);
  });

  it("query every statistic a panel's title or description names", () => {
    for (const d of dashboards()) {
      for (const p of d.panels.filter((x) => x.type !== "row")) {
        const text = `${p.title} ${p.description ?? ""}`.toLowerCase();
        const exprs = (p.targets ?? []).map((t) => t.expr);
        const where = `${d.title} / ${p.title}`;
        if (/\bmedian\b/.test(text)) expect(exprs.some((e) => e.includes("histogram_quantile(0.5,")), `${where}: median`).toBe(true);
        if (/\bmean\b/.test(text)) expect(exprs.some((e) => /_sum\{[\s\S]*\/[\s\S]*_count\{/.test(e)), `${where}: mean`).toBe(true);
        for (const [, n] of text.matchAll(/\bp(\d\d)\b/g)) expect(exprs.some((e) => e.includes(`histogram_quantile(0.${n!.replace(/0$/, "")},`)), `${where}: p${n}`).toBe(true);
      }
    }
  });

  it("offer the filters users need on each dashboard", () => {
    const variables = Object.fromEntries(dashboards().map((d) => [d.uid, d.templating.list.map((v) => v.name)]));
    expect(variables).toEqual({
      "gitlab-ci-overview": ["datasource", "job", "project", "tags"],
      "gitlab-ci-job-resources": ["datasource", "job", "project", "ref", "job_name"],
      "gitlab-ci-spot-fleet": ["datasource", "job", "nodegroup", "zone"],
      "gitlab-ci-image-builds": ["datasource", "job", "builder", "project"],
      "gitlab-ci-cost": ["datasource", "job", "project", "nodegroup"],
    });
    const used = (uid: string) => dashboardQueries().filter((q) => dashboards().find((d) => d.uid === uid)!.title === q.where.split(" / ").slice(0, 2).join(" / "));
    for (const [uid, names] of Object.entries(variables)) {
      const text = used(uid).map((q) => q.expr).join("\n");
      for (const name of names.slice(1)) expect(text, `${uid} never uses $${name}`).toContain(`$${name}`);
    }
  });
});

describe("the README's vendoring instructions", () => {
  it("import the mixin where jsonnet-bundler puts it, with the overrides applied", async () => {
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    const uri = /`jb install ([^`@\s]+)(?:@[^`\s]*)?`/.exec(readme)?.[1];
    const snippet = /```jsonnet\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("vendor the mixin")))?.[1];
    expect(uri).toBe("github.com/gitlab-ci-k8s-exporter/gitlab-ci-k8s-exporter/mixin");
    // jb's layout: the package under its full path, and with legacyImports a link named after the
    // path's last element (jsonnet-bundler's LegacyName).
    const vendor = await mkdtemp(path.join(tmpdir(), "jb-vendor-"));
    try {
      await mkdir(path.join(vendor, path.dirname(uri!)), { recursive: true });
      await symlink(path.join(ROOT, "mixin"), path.join(vendor, uri!));
      await symlink(path.join(ROOT, "mixin"), path.join(vendor, path.basename(uri!)));
      const imported = /import '([^']+)'/.exec(snippet!)?.[1];
      expect([`${uri}/mixin.libsonnet`, `${path.basename(uri!)}/mixin.libsonnet`]).toContain(imported);
      const jsonnet = new Jsonnet().addJpath(vendor);
      const alerts = JSON.parse(await jsonnet.evaluateSnippet(`local m = (${snippet}); m.prometheusAlerts`, path.join(tmpdir(), "main.jsonnet"))) as RenderedMixin["alerts"];
      const pending = alerts.groups.flatMap((g) => g.rules).find((r) => r.alert === "GitLabCIPendingJobsHigh")!;
      expect(pending.expr).toContain("> 50");
    } finally {
      await rm(vendor, { recursive: true, force: true });
    }
  });
});

describe("parsing the rule files as Prometheus does", () => {
  it("gives groups with rules only, and a for duration where the mixin set one", async () => {
    const alerts = parse(await readFile(path.join(ROOT, "rules/gitlab-ci-alerts.yaml"), "utf8")) as RenderedMixin["alerts"];
    expect(alerts.groups.map((g) => g.name)).toEqual(["gitlab-ci.alerts", "gitlab-ci-exporter.alerts"]);
    expect(alerts.groups.flatMap((g) => g.rules).find((r) => r.alert === "GitLabCIPendingJobsHigh")).toMatchObject({ for: "15m", labels: { severity: "critical" } });
  });
});
