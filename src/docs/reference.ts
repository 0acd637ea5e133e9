import { Registry } from "prom-client";
import { SETTINGS, type SettingSpec } from "../config/settings.js";
import { createMetrics } from "../metrics/index.js";
import { JobStore } from "../state/jobs.js";
import { ProjectRegistry } from "../state/projects.js";

/**
 * The README's configuration and metrics references, rendered from the settings table and from
 * a registry built exactly as the exporter builds it, so the documentation cannot drift.
 */
export function settingsReference(): string {
  const rows = SETTINGS.map((spec: SettingSpec) => {
    const value = spec.default === undefined ? "" : `\`${spec.default}\``;
    return `| \`${spec.name}\` | ${value} | ${spec.description} |`;
  });
  return ["| Setting | Default | Meaning |", "|---|---|---|", ...rows].join("\n");
}

/** Every family the exporter registers, except prom-client's default process metrics. */
export function exporterRegistry(): Registry {
  const registry = new Registry();
  const { jobs: jobMetrics } = createMetrics(registry);
  jobMetrics.readFrom(new JobStore(jobMetrics), new ProjectRegistry(jobMetrics));
  return registry;
}

/** Names of the project's own families (not the process defaults). */
export function exporterFamilyNames(registry: Registry = exporterRegistry()): string[] {
  return registry
    .getMetricsAsArray()
    .map((metric) => metric.name)
    .filter((name) => name.startsWith("gitlab_ci_"))
    .sort();
}

export function metricsReference(registry: Registry = exporterRegistry()): string {
  const rows = registry
    .getMetricsAsArray()
    .filter((metric) => metric.name.startsWith("gitlab_ci_"))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((metric) => {
      const inner = metric as unknown as { labelNames?: string[]; type: string; help: string };
      const labels = (inner.labelNames ?? []).join(", ");
      return `| \`${metric.name}\` | ${inner.type} | ${labels} | ${inner.help} |`;
    });
  return ["| Family | Type | Labels | Meaning |", "|---|---|---|---|", ...rows].join("\n");
}

const SECTIONS = {
  settings: settingsReference,
  metrics: () => metricsReference(),
} as const;

/** Replaces each `<!-- NAME:begin -->...<!-- NAME:end -->` block of the README with its rendering. */
export function renderReadme(readme: string): string {
  let result = readme;
  for (const [name, render] of Object.entries(SECTIONS)) {
    const pattern = new RegExp(`(<!-- ${name}:begin -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!pattern.test(result)) throw new Error(`README.md has no <!-- ${name}:begin --> ... <!-- ${name}:end --> block`);
    result = result.replace(pattern, (_match, begin: string, end: string) => `${begin}${render()}\n${end}`);
  }
  return result;
}
