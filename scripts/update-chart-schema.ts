import { readFileSync, writeFileSync } from "node:fs";
import { CHART_SETTINGS, settingSchema } from "./chart-settings.js";

/**
 * Rewrites the `settings` properties of the Helm chart's values.schema.json from the settings
 * table, so a new setting is accepted by the chart the moment it exists (`npm run docs`).
 */
const path = new URL("../deploy/helm/gitlab-ci-k8s-exporter/values.schema.json", import.meta.url);
const before = readFileSync(path, "utf8");
const schema = JSON.parse(before) as { properties: { settings: { properties: Record<string, unknown> } } };
schema.properties.settings.properties = Object.fromEntries(CHART_SETTINGS.map((spec) => [spec.name, settingSchema(spec)]));
const after = `${JSON.stringify(schema, null, 2)}\n`;
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? "values.schema.json is up to date\n" : "values.schema.json settings updated\n");
