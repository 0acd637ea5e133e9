import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./errors.js";

/** Setting values as given, by setting name, before they are parsed. */
export type RawSettings = Partial<Record<string, string>>;

/**
 * The files the configuration names: the YAML file of settings (`--config` or `CONFIG_FILE`) and
 * the TLS certificate and key.
 */

/** The path after `--config` or `--config=`, if given. */
export function configFileFrom(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config") {
      const path = argv[i + 1];
      if (!path) throw new ConfigError("--config", undefined, "a path to a YAML file after --config");
      return path;
    }
    if (arg.startsWith("--config=")) return arg.slice("--config=".length);
  }
  return undefined;
}

export function readConfigFile(path: string, known: Set<string>): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError("CONFIG_FILE", JSON.stringify(path), `a readable YAML file (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError("CONFIG_FILE", JSON.stringify(path), `valid YAML (${(error as Error).message.split("\n")[0]})`);
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new ConfigError("CONFIG_FILE", JSON.stringify(path), "a YAML mapping of setting names to values");
  }
  const raw: RawSettings = {};
  for (const [key, value] of Object.entries(document)) {
    if (!known.has(key)) {
      throw new ConfigError("CONFIG_FILE", JSON.stringify(path), `only known setting names, found ${JSON.stringify(key)} (see the configuration reference)`);
    }
    // A key without a value (YAML null) is blank, not the word "null".
    raw[key] = value === null ? "" : Array.isArray(value) ? value.map(String).join(",") : String(value);
  }
  return raw;
}

/** The PEM file a TLS setting names, read at start-up. */
export function readPemFile(setting: string, path: string): string {
  try {
    const pem = readFileSync(path, "utf8");
    if (!pem.includes("-----BEGIN")) throw new ConfigError(setting, JSON.stringify(path), "a PEM file");
    return pem;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(setting, JSON.stringify(path), `a readable PEM file (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}
