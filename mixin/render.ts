/**
 * Evaluates the mixin with @hanazuki/node-jsonnet (libjsonnet built into a Node addon, so no
 * jsonnet binary is needed) and writes the rule files and dashboards committed in `rules/` and
 * `dashboards/`. `npm run mixin` regenerates them; a test fails when they drift from `mixin/`.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Jsonnet } from "@hanazuki/node-jsonnet";
import { stringify } from "yaml";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const MIXIN_DIR = path.join(ROOT, "mixin");

export interface RuleGroup {
  readonly name: string;
  readonly rules: ReadonlyArray<Record<string, unknown>>;
}

export interface RenderedMixin {
  readonly alerts: { groups: RuleGroup[] };
  readonly rules: { groups: RuleGroup[] };
  readonly dashboards: Record<string, Record<string, unknown>>;
}

/** Evaluates the mixin, with `_config` overrides merged in as users would in jsonnet. */
export async function evaluateMixin(configOverrides: Record<string, unknown> = {}): Promise<RenderedMixin> {
  const snippet = `
    local mixin = (import 'mixin.libsonnet') + { _config+:: std.parseJson(std.extVar('overrides')) };
    { alerts: mixin.prometheusAlerts, rules: mixin.prometheusRules, dashboards: mixin.grafanaDashboards }
  `;
  const jsonnet = new Jsonnet().extString("overrides", JSON.stringify(configOverrides));
  return JSON.parse(await jsonnet.evaluateSnippet(snippet, path.join(MIXIN_DIR, "render.jsonnet"))) as RenderedMixin;
}

const HEADER = "# Generated from mixin/ by `npm run mixin`. Do not edit: change mixin/ and regenerate.\n";

const RULE_KEY_ORDER = ["alert", "record", "expr", "for", "labels", "annotations"];

/** Jsonnet sorts object keys; rule files read better in Prometheus' documented order. */
function ordered(file: { groups: RuleGroup[] }): { groups: RuleGroup[] } {
  const rank = (key: string) => (RULE_KEY_ORDER.includes(key) ? RULE_KEY_ORDER.indexOf(key) : RULE_KEY_ORDER.length);
  return {
    groups: file.groups.map((group) => ({
      name: group.name,
      rules: group.rules.map((rule) => Object.fromEntries(Object.entries(rule).sort(([a], [b]) => rank(a) - rank(b)))),
    })),
  };
}

export const PROMETHEUS_RULE_PATH = "deploy/kubernetes/base/prometheusrule.yaml";

/** The Prometheus Operator's PrometheusRule carrying exactly the groups of `rules/`. */
function prometheusRule(mixin: RenderedMixin) {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "gitlab-ci-k8s-exporter" },
    spec: { groups: [...ordered(mixin.alerts).groups, ...ordered(mixin.rules).groups] },
  };
}

/** Where the Helm chart keeps its copies of `rules/` and `dashboards/`. */
const CHART_FILES = "deploy/helm/gitlab-ci-k8s-exporter/files";

/** The files `npm run mixin` writes, by path relative to the repository root. */
export function mixinFiles(mixin: RenderedMixin): Map<string, string> {
  const files = new Map<string, string>();
  const yaml = (value: unknown) => HEADER + stringify(value, { lineWidth: 0, blockQuote: "literal" });
  files.set("rules/gitlab-ci-alerts.yaml", yaml(ordered(mixin.alerts)));
  files.set("rules/gitlab-ci-rules.yaml", yaml(ordered(mixin.rules)));
  files.set(PROMETHEUS_RULE_PATH, yaml(prometheusRule(mixin)));
  for (const [name, dashboard] of Object.entries(mixin.dashboards)) {
    files.set(`dashboards/${name}`, `${JSON.stringify(dashboard, null, 2)}\n`);
  }
  // The Helm chart ships its own copies: a chart packs no file from outside its directory.
  for (const [relative, content] of [...files]) {
    if (/^(rules|dashboards)\//.test(relative)) files.set(`${CHART_FILES}/${relative}`, content);
  }
  return files;
}

/** Writes the rendered files under `root`, removing generated files the mixin no longer makes. */
export async function writeMixin(files: Map<string, string>, root = ROOT): Promise<void> {
  for (const dir of ["rules", "dashboards", `${CHART_FILES}/rules`, `${CHART_FILES}/dashboards`]) {
    await mkdir(path.join(root, dir), { recursive: true });
    for (const name of await readdir(path.join(root, dir))) {
      const relative = `${dir}/${name}`;
      if (/\.(yaml|json)$/.test(name) && !files.has(relative)) await rm(path.join(root, relative));
    }
  }
  for (const [relative, content] of files) await writeFile(path.join(root, relative), content);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = mixinFiles(await evaluateMixin());
  await writeMixin(files);
  for (const relative of files.keys()) console.log(`wrote ${relative}`);
}
