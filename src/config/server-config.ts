import { ConfigError } from "./errors.js";
import { readTlsPair, type RawSettings } from "./file.js";
import { nonEmpty, parseBoolean, parseNumber } from "./parse.js";
import { secretFrom, settingReader } from "./read.js";
import type { Secret } from "./secret.js";
import { settingSpec, type SettingName } from "./settings.js";

// What the HTTP side reads of the configuration: the webhook endpoint, who may read /metrics, and the limits on clients.

export interface WebhookConfig {
  /** null: no token is checked (only with allowUnauthenticated), or the endpoint is disabled. */
  readonly secret: Secret | null;
  readonly allowUnauthenticated: boolean;
  readonly maxBodyBytes: number;
  /** Body bytes read at once over every delivery; past it a delivery is answered unread. */
  readonly maxInflightBytes: number;
}

/** Who may read `/metrics`, and whether the listener speaks TLS. */
export interface WebConfig {
  readonly bearerToken: Secret | null;
  readonly basicAuth: { readonly username: string; readonly password: Secret } | null;
  readonly tls: { readonly cert: string; readonly key: string } | null;
}

/** Limits that shed slow and abusive HTTP clients. */
export interface HttpLimits {
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}


export function webhookConfig(raw: RawSettings): WebhookConfig {
  const get = settingReader(raw);
  const maxBodyBytes = get("GITLAB_WEBHOOK_MAX_BODY_BYTES", parseNumber)!;
  const maxInflightBytes = get("GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES", parseNumber)!;
  // Below the body limit, the largest deliveries GitLab sends could never be read.
  if (maxInflightBytes < maxBodyBytes) {
    throw new ConfigError("GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES", String(maxInflightBytes), `at least GITLAB_WEBHOOK_MAX_BODY_BYTES (${maxBodyBytes})`);
  }
  return {
    secret: secretFrom(raw, "GITLAB_WEBHOOK_SECRET", "GITLAB_WEBHOOK_SECRET_FILE", false),
    allowUnauthenticated: get("GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED", parseBoolean)!,
    maxBodyBytes,
    maxInflightBytes,
  };
}

export function httpLimits(number: (name: SettingName) => number): HttpLimits {
  const headersTimeoutMs = number("HTTP_HEADERS_TIMEOUT_SECONDS") * 1000;
  const requestTimeoutMs = number("HTTP_REQUEST_TIMEOUT_SECONDS") * 1000;
  // The headers are part of the request: Node refuses a headers timeout above the request timeout.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("HTTP_HEADERS_TIMEOUT_SECONDS", String(headersTimeoutMs / 1000), `at most HTTP_REQUEST_TIMEOUT_SECONDS (${requestTimeoutMs / 1000})`);
  }
  return { maxConnections: number("HTTP_MAX_CONNECTIONS"), headersTimeoutMs, requestTimeoutMs, idleTimeoutMs: number("HTTP_IDLE_TIMEOUT_SECONDS") * 1000 };
}

export function webConfig(raw: RawSettings): WebConfig {
  const bearerToken = secretFrom(raw, "METRICS_BEARER_TOKEN", "METRICS_BEARER_TOKEN_FILE", false);
  const username = nonEmpty(raw.METRICS_BASIC_AUTH_USERNAME);
  const password = secretFrom(raw, "METRICS_BASIC_AUTH_PASSWORD", "METRICS_BASIC_AUTH_PASSWORD_FILE", false);
  if (username !== undefined && password === null) throw new ConfigError("METRICS_BASIC_AUTH_PASSWORD", undefined, "a password when METRICS_BASIC_AUTH_USERNAME is set");
  if (username === undefined && password !== null) throw new ConfigError("METRICS_BASIC_AUTH_USERNAME", undefined, "a user name when a basic auth password is set");
  if (bearerToken && username !== undefined) throw new ConfigError("METRICS_BEARER_TOKEN", '"***"', "either a bearer token or basic auth, not both");
  const certPath = nonEmpty(raw.TLS_CERT_FILE);
  const keyPath = nonEmpty(raw.TLS_KEY_FILE);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new ConfigError(certPath === undefined ? "TLS_CERT_FILE" : "TLS_KEY_FILE", undefined, "both TLS_CERT_FILE and TLS_KEY_FILE, or neither");
  }
  return {
    bearerToken,
    basicAuth: username !== undefined && password ? { username, password } : null,
    tls: certPath && keyPath ? readTlsPair(certPath, keyPath) : null,
  };
}

/** The limits at their documented defaults, for servers built without a configuration. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = httpLimits((name) => Number(settingSpec(name).default));
