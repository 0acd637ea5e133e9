/**
 * What the Helm chart's `settings:` value must accept, derived from the settings table: every
 * setting but those the chart sets itself and the plain-text secrets, each typed by its kind.
 */
import { SETTINGS, type SettingSpec } from "../src/config/settings.js";

/** Set by the chart from its own values: the port, the files of the mounted Secrets, and the sharding (`shards`, `replicasPerShard`). */
export const CHART_MANAGED = ["LISTEN_ADDRESS", "GITLAB_TOKEN_FILE", "GITLAB_WEBHOOK_SECRET_FILE", "SHARD", "TOTAL_SHARDS", "SHARD_REPLICAS", "POD_NAME", "POD_NAMESPACE"] as const;

/** Secrets in plain text would sit in the pod spec: the chart takes their *_FILE settings instead. */
export const PLAIN_SECRETS: readonly string[] = SETTINGS.filter((s) => s.kind === "secret").map((s) => s.name);

export const CHART_SETTINGS: readonly SettingSpec[] = SETTINGS.filter(
  (s) => !(CHART_MANAGED as readonly string[]).includes(s.name) && !PLAIN_SECRETS.includes(s.name),
);

/** The JSON Schema of one setting in values.schema.json: Helm values may be typed or strings. */
export function settingSchema(spec: SettingSpec): Record<string, unknown> {
  switch (spec.kind) {
    case "boolean":
      return { oneOf: [{ type: "boolean" }, { type: "string", enum: ["true", "false"] }] };
    case "number":
    case "integer": {
      const bounds = { ...(spec.min === undefined ? {} : { minimum: spec.min }), ...(spec.max === undefined ? {} : { maximum: spec.max }) };
      const pattern = spec.kind === "integer" ? "^[0-9]+$" : "^[0-9]+(\\.[0-9]+)?$";
      return { oneOf: [{ type: spec.kind, ...bounds }, { type: "string", pattern }] };
    }
    case "list":
      return { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] };
    case "enum":
      return { type: "string", enum: spec.values };
    default:
      return { type: "string", minLength: 1 };
  }
}

/** A setting's default as a chart user would type it in values.yaml: numbers, booleans, lists. */
export function typedDefault(spec: SettingSpec): unknown {
  const text = spec.default!;
  if (spec.kind === "number" || spec.kind === "integer") return Number(text);
  if (spec.kind === "boolean") return text === "true";
  if (spec.kind === "list") return text.split(",");
  return text;
}
