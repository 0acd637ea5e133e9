import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { OPENCOST_RESOURCE_WEIGHTS, type PriceTable } from "../domain/cost.js";
import { ConfigError } from "./errors.js";

/**
 * `KUBE_NODE_PRICES_FILE`: the hourly price of each instance type, on demand and on spot, in one
 * currency. Read once at start-up; a file that cannot be read, or says anything the table does
 * not expect (a typo in a key included), stops the exporter with one line naming the setting.
 *
 *   currency: USD
 *   resourceWeights: { cpuCoreHour: 0.031611, memoryGiBHour: 0.004237 }   # optional
 *   instanceTypes:
 *     c5a.2xlarge: { onDemand: 0.308, spot: 0.1201 }
 */
const SETTING = "KUBE_NODE_PRICES_FILE";
/** No instance is priced at more than this an hour (the largest cloud instances cost well under 1,000). */
const MAX_HOURLY_PRICE = 100_000;
const MAX_INSTANCE_TYPES = 10_000;

const hourly = z.number().finite().min(0).max(MAX_HOURLY_PRICE);
const weight = z.number().finite().positive();

const tableSchema = z.strictObject({
  currency: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,15}$/, "a currency code such as USD or EUR"),
  resourceWeights: z.strictObject({ cpuCoreHour: weight, memoryGiBHour: weight }).optional(),
  instanceTypes: z
    .record(z.string().min(1).max(253), z.strictObject({ onDemand: hourly, spot: hourly.nullable().optional() }))
    .refine((types) => Object.keys(types).length > 0, "at least one instance type")
    .refine((types) => Object.keys(types).length <= MAX_INSTANCE_TYPES, `at most ${MAX_INSTANCE_TYPES} instance types`),
});

/** The price table in the file at `path`. */
export function readPriceTable(path: string): PriceTable {
  const shown = JSON.stringify(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(SETTING, shown, `a readable YAML price table (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(SETTING, shown, `a YAML price table (${(error as Error).message.split("\n")[0]})`);
  }
  return priceTableFrom(document, shown);
}

/** The table a parsed YAML document describes; `shown` names the file in the error. */
export function priceTableFrom(document: unknown, shown: string): PriceTable {
  const parsed = tableSchema.safeParse(document);
  if (!parsed.success) {
    // Two at most: a misspelt key shows as the key missing and the key unknown.
    const issues = parsed.error.issues.slice(0, 2).map((issue) => `${pathOf(issue.path)}: ${issue.message.replace(/\s+/g, " ")}`);
    throw new ConfigError(SETTING, shown, `a price table with currency and instanceTypes: ${issues.join("; ")}`);
  }
  const { currency, resourceWeights, instanceTypes } = parsed.data;
  return {
    currency,
    weights: resourceWeights ?? OPENCOST_RESOURCE_WEIGHTS,
    instanceTypes: new Map(Object.entries(instanceTypes).map(([type, price]) => [type, { onDemand: price.onDemand, spot: price.spot ?? null }])),
  };
}

/** `instanceTypes["c5a.2xlarge"].spot`: keys holding dots are bracketed. */
function pathOf(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return "(the file)";
  return path.map((key, i) => (typeof key === "string" && /^[A-Za-z_]\w*$/.test(key) ? `${i === 0 ? "" : "."}${key}` : `[${JSON.stringify(String(key))}]`)).join("");
}
