import { SETTINGS, type SettingSpec } from "../../src/config/settings.js";
import { buildHouse } from "../../src/wiring.js";

/**
 * The README's configuration and metrics references, rendered from the settings table and from
 * the families built exactly as the exporter builds them, so the documentation cannot drift.
 */
export function settingsReference(): string {
  const rows = SETTINGS.map((spec: SettingSpec) => {
    const value = spec.default === undefined ? "" : `\`${spec.default}\``;
    return `| \`${spec.name}\` | ${value} | ${spec.description} |`;
  });
  return ["| Setting | Default | Meaning |", "|---|---|---|", ...rows].join("\n");
}

interface FamilyDescription {
  readonly name: string;
  readonly type: string;
  readonly labelNames: readonly string[];
  readonly help: string;
}

/**
 * Every family of the project (not the process metrics), built as the exporter builds them, those
 * behind a setting (`KUBE_EXPORT_POD_RESOURCES`) included: their help says so.
 */
export function exporterFamilies(): FamilyDescription[] {
  const { exposition } = buildHouse({ processMetrics: false, podResources: true });
  return exposition.families
    .map(({ name, type, labelNames, help }) => ({ name, type, labelNames, help }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function exporterFamilyNames(): string[] {
  return exporterFamilies().map((family) => family.name);
}

export function metricsReference(): string {
  const rows = exporterFamilies().map((family) => `| \`${family.name}\` | ${family.type} | ${family.labelNames.join(", ")} | ${family.help} |`);
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
