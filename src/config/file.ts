import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./errors.js";

/** Setting values as given, by setting name, before they are parsed. */
export type RawSettings = Partial<Record<string, string>>;

/**
 * The files the configuration names: the YAML file of settings (`--config` or `CONFIG_FILE`) and
 * the TLS certificate and key.
 */

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
function readPemFile(setting: string, path: string): string {
  try {
    const pem = readFileSync(path, "utf8");
    if (!pem.includes("-----BEGIN")) throw new ConfigError(setting, JSON.stringify(path), "a PEM file");
    return pem;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(setting, JSON.stringify(path), `a readable PEM file (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}

/**
 * The certificate and key the TLS settings name, read and tried at start-up: a certificate
 * OpenSSL cannot read, or a key that is not its certificate's, would otherwise stop the server
 * while it starts, with OpenSSL's words and no setting named.
 */
export function readTlsPair(certPath: string, keyPath: string): { cert: string; key: string } {
  const cert = readPemFile("TLS_CERT_FILE", certPath);
  const key = readPemFile("TLS_KEY_FILE", keyPath);
  try {
    createSecureContext({ cert });
  } catch (error) {
    throw new ConfigError("TLS_CERT_FILE", JSON.stringify(certPath), `a PEM certificate (${opensslReason(error)})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const mismatch = (error as NodeJS.ErrnoException).code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH";
    throw new ConfigError("TLS_KEY_FILE", JSON.stringify(keyPath), mismatch ? "the private key of TLS_CERT_FILE's certificate (this key belongs to another)" : `an unencrypted PEM private key (${opensslReason(error)})`);
  }
  return { cert, key };
}

/** OpenSSL's reason without its error number: `error:0480006C:PEM routines::no start line` → `PEM routines: no start line`. */
function opensslReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error:[0-9A-Fa-f]+:/, "").replace(/::/, ": ");
}
