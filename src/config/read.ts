import { ConfigError } from "./errors.js";
import type { RawSettings } from "./file.js";
import { nonEmpty } from "./parse.js";
import { fileSecret, inlineSecret, type Secret } from "./secret.js";
import { settingSpec, type SettingName, type SettingSpec } from "./settings.js";

/** Reads one setting: its value given, else its default, parsed; undefined when neither. */
export function settingReader(raw: RawSettings) {
  return <T>(name: SettingName, parse: (value: string, spec: SettingSpec) => T): T | undefined => {
    const spec = settingSpec(name);
    const value = raw[name] ?? spec.default;
    return value === undefined ? undefined : parse(value, spec);
  };
}

export function secretFrom(raw: RawSettings, inline: SettingName, file: SettingName, required: boolean): Secret | null {
  const value = nonEmpty(raw[inline]);
  const path = nonEmpty(raw[file]);
  if (value !== undefined && path !== undefined) {
    throw new ConfigError(file, JSON.stringify(path), `only one of ${inline} and ${file}`);
  }
  if (value !== undefined) return inlineSecret(inline, value);
  if (path !== undefined) {
    let secret: Secret;
    try {
      secret = fileSecret(file, path);
    } catch (error) {
      throw new ConfigError(file, JSON.stringify(path), `a readable file (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
    }
    if (secret.value() === "") throw new ConfigError(file, JSON.stringify(path), "a file holding a non-empty secret");
    return secret;
  }
  if (required) throw new ConfigError(inline, undefined, `a token with the read_api scope (or set ${file})`);
  return null;
}
