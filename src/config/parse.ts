import { z } from "zod";
import type { BuilderImage } from "../domain/builder.js";
import type { LabelSelector } from "../domain/node.js";
import { ConfigError } from "./errors.js";
import type { SettingSpec } from "./settings.js";

/**
 * Setting values, from text to what the configuration holds. A value that does not fit is a
 * `ConfigError` naming the setting, the value (a secret's hidden) and what was expected.
 */

const urlSchema = z.url({ protocol: /^https?$/ });

export function parseUrl(value: string, spec: SettingSpec): string {
  const result = urlSchema.safeParse(value);
  const shownUrl = JSON.stringify(withoutUserinfo(value));
  if (!result.success) throw new ConfigError(spec.name, shownUrl, "an absolute http(s) URL such as https://gitlab.example.com");
  const url = new URL(value);
  // Credentials in the URL would be logged with it and sent to wherever a redirect points.
  if (url.username !== "" || url.password !== "") {
    throw new ConfigError(spec.name, shownUrl, "a URL without user:password@ (give the token in GITLAB_TOKEN or GITLAB_TOKEN_FILE)");
  }
  return value.replace(/\/+$/, "").replace(/\/api\/v4$/, "");
}

/**
 * The value with everything between the scheme and its last `@` hidden, so an error never shows a
 * user or password, even in a URL too malformed to parse.
 */
function withoutUserinfo(value: string): string {
  const at = value.lastIndexOf("@");
  if (at < 0) return value;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? "";
  return `${scheme}***${value.slice(at)}`;
}

export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

export function parseNumber(value: string, spec: SettingSpec): number {
  const integer = spec.kind === "integer";
  const parsed = Number(value);
  const inRange = (spec.min === undefined || parsed >= spec.min) && (spec.max === undefined || parsed <= spec.max);
  if (value.trim() === "" || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || !inRange) {
    throw invalid(spec, value, `${integer ? "an integer" : "a number"} from ${spec.min} to ${spec.max}`);
  }
  return parsed;
}

export function parseListen(value: string, spec: SettingSpec): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw invalid(spec, value, "host:port, e.g. 0.0.0.0:9863 or :9863");
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

export function parseBoolean(value: string, spec: SettingSpec): boolean {
  const normalised = value.trim().toLowerCase();
  // Exactly the words: a switch such as GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED must be set on purpose.
  if (normalised === "true") return true;
  if (normalised === "false") return false;
  throw invalid(spec, value, "true or false");
}

export function parseEnum(value: string, spec: SettingSpec): string {
  const normalised = value.trim().toLowerCase();
  if (!spec.values?.includes(normalised)) throw invalid(spec, value, `one of ${spec.values?.join(", ")}`);
  return normalised;
}

/** A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
const KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const BUILDER = /^[a-z][a-z0-9_]{0,31}$/;

export function parseKeyList(value: string, spec: SettingSpec): string[] {
  const keys = parseList(value);
  const bad = keys.find((key) => !KEY.test(key));
  if (bad !== undefined) throw invalid(spec, value, `comma-separated label or annotation keys such as job.runner.gitlab.com/id (not ${JSON.stringify(bad)})`);
  return keys;
}

export function parseNamespaces(value: string, spec: SettingSpec): string[] {
  const namespaces = parseList(value);
  const bad = namespaces.find((namespace) => !NAMESPACE.test(namespace));
  if (bad !== undefined) throw invalid(spec, value, `comma-separated namespace names (not ${JSON.stringify(bad)})`);
  return [...new Set(namespaces)];
}

export function parseSelectors(value: string, spec: SettingSpec): LabelSelector[] {
  return parseList(value).map((item) => {
    const at = item.indexOf("=");
    const key = at < 0 ? "" : item.slice(0, at).trim();
    const label = at < 0 ? "" : item.slice(at + 1).trim();
    if (!KEY.test(key) || !LABEL_VALUE.test(label)) throw invalid(spec, value, `comma-separated label=value pairs such as karpenter.sh/capacity-type=spot (not ${JSON.stringify(item)})`);
    return { key, value: label };
  });
}

export function parseBuilderImages(value: string, spec: SettingSpec): BuilderImage[] {
  return parseList(value).map((item) => {
    const at = item.indexOf("=");
    const builder = at < 0 ? "" : item.slice(0, at).trim();
    const prefix = at < 0 ? "" : item.slice(at + 1).trim();
    if (!BUILDER.test(builder) || prefix === "" || /\s/.test(prefix)) {
      throw invalid(spec, value, `comma-separated builder=image-prefix pairs such as kaniko=gcr.io/kaniko-project/executor (not ${JSON.stringify(item)})`);
    }
    return { builder, prefix };
  });
}

function invalid(spec: SettingSpec, value: string, expected: string): ConfigError {
  return new ConfigError(spec.name, shown(spec, value), expected);
}

function shown(spec: SettingSpec, value: string): string {
  return spec.kind === "secret" ? '"***"' : JSON.stringify(value);
}

/** The value trimmed; undefined when unset or blank. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
