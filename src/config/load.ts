import { delimiter } from "node:path";
import type { BuilderImage } from "../domain/builder.js";
import type { JobPodOptions } from "../domain/job-pod.js";
import type { LabelSelector } from "../domain/node.js";
import { ConfigError } from "./errors.js";
import { parseArgs } from "./args.js";
import { readConfigFile, readTlsPair, type RawSettings } from "./file.js";
import { nonEmpty, parseBoolean, parseBuilderImages, parseEnum, parseKeyList, parseList, parseListen, parseNamespaces, parseNumber, parseSelectors, parseUrl } from "./parse.js";
import { fileSecret, inlineSecret, type Secret } from "./secret.js";
import { holdsSecret, settingSpec, SETTINGS, type SettingName, type SettingSpec } from "./settings.js";

// The command line reports configuration errors by this class, from here.

export interface GitLabConfig {
  readonly url: string;
  readonly token: Secret;
  readonly projects: readonly string[];
  readonly groups: readonly string[];
  readonly pollIntervalMs: number;
  readonly discoveryIntervalMs: number;
  readonly maxRequestsPerSecond: number;
  readonly idleRequestsPerSecond: number;
  readonly maxConcurrentRequests: number;
  readonly requestTimeoutMs: number;
  /** Largest answer body read, after decompression. */
  readonly maxResponseBytes: number;
  readonly hotProjectTtlMs: number;
  /** `GITLAB_READ_PATH`. */
  readonly readPath: "auto" | "instance" | "sweep" | "rest";
  readonly sweepIntervalMs: number;
}

export interface WebhookConfig {
  /** null: no token is checked (only with allowUnauthenticated), or the endpoint is disabled. */
  readonly secret: Secret | null;
  readonly allowUnauthenticated: boolean;
  readonly maxBodyBytes: number;
}

/** Who may read `/metrics`, and whether the listener speaks TLS. */
export interface WebConfig {
  readonly bearerToken: Secret | null;
  readonly basicAuth: { readonly username: string; readonly password: Secret } | null;
  readonly tls: { readonly cert: string; readonly key: string } | null;
}

/** The Kubernetes side: where to watch, and how to read pods and nodes. */
export interface KubernetesConfig {
  readonly enabled: boolean;
  /** Kubeconfig files to merge; empty: client-node's default lookup. */
  readonly kubeconfigPaths: readonly string[];
  /** Namespaces whose pods are watched; empty: all namespaces. */
  readonly namespaces: readonly string[];
  /** Nodes are watched (cluster-wide): spot nodes and the removal signs of nodes. */
  readonly nodesEnabled: boolean;
  readonly watchStallMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly interruptionSettleMs: number;
  /** What one answer of the API server may weigh, and how far one list may run. */
  readonly limits: KubernetesReadLimits;
  readonly pods: { readonly jobPod: JobPodOptions; readonly builders: readonly BuilderImage[] };
  readonly nodes: { readonly spotSelectors: readonly LabelSelector[]; readonly nodegroupKeys: readonly string[]; readonly instanceTypeKeys: readonly string[]; readonly zoneKeys: readonly string[] };
}

/** What one answer of the Kubernetes API may weigh, and how far one list may run: a peer is read only so far. */
export interface KubernetesReadLimits {
  readonly maxWatchLineBytes: number;
  readonly maxListPageBytes: number;
  readonly maxListPages: number;
  readonly maxListItems: number;
}

/** Limits that shed slow and abusive HTTP clients. */
export interface HttpLimits {
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** The limits at their documented defaults, for servers built without a configuration. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = httpLimits((name) => Number(settingSpec(name).default));

export interface Config {
  readonly gitlab: GitLabConfig;
  readonly kube: KubernetesConfig;
  readonly webhook: WebhookConfig;
  readonly web: WebConfig;
  readonly listen: { readonly host: string; readonly port: number };
  readonly http: HttpLimits;
  readonly logLevel: string;
  readonly maxSeriesPerFamily: number;
  readonly labelValueMaxBytes: number;
}



/**
 * Builds the configuration from the environment and an optional YAML file (`--config` or
 * `CONFIG_FILE`, same keys as the environment). Environment variables win over the file.
 */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[] = []): Config {
  const known = new Set<string>(SETTINGS.map((s) => s.name));
  const command = parseArgs(argv);
  const configFile = (command.kind === "run" ? command.configFile : undefined) ?? nonEmpty(env.CONFIG_FILE);
  const raw: RawSettings = configFile ? readConfigFile(configFile, known) : {};
  for (const spec of SETTINGS) {
    const fromEnv = env[spec.name];
    // An empty variable means unset, except for a secret: there it is a mistake to report.
    if (fromEnv !== undefined && (fromEnv !== "" || holdsSecret(spec.name))) raw[spec.name] = fromEnv;
  }
  refuseBlankSecrets(raw);
  return buildConfig(raw);
}

/**
 * A secret set to nothing (`METRICS_BEARER_TOKEN="  "`, an empty key in the file) most likely
 * comes from a template whose value went missing; taken as unset it would open `/metrics` or the
 * webhook without a word. It is refused instead, by name only.
 */
function refuseBlankSecrets(raw: RawSettings): void {
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined && value.trim() === "" && holdsSecret(name)) {
      throw new ConfigError(name, undefined, "a non-empty value, or the setting removed", true);
    }
  }
}

function buildConfig(raw: RawSettings): Config {
  const get = settingReader(raw);
  const number = (name: SettingName) => get(name, parseNumber)!;

  const url = get("GITLAB_URL", parseUrl);
  if (url === undefined) throw new ConfigError("GITLAB_URL", undefined, "the base URL of your GitLab, e.g. https://gitlab.example.com");
  const token = secretFrom(raw, "GITLAB_TOKEN", "GITLAB_TOKEN_FILE", true)!;
  const projects = get("GITLAB_PROJECTS", parseList) ?? [];
  const groups = get("GITLAB_GROUPS", parseList) ?? [];
  if (projects.length === 0 && groups.length === 0) {
    throw new ConfigError("GITLAB_PROJECTS", undefined, "a comma-separated list of project paths or ids (or set GITLAB_GROUPS)");
  }
  const maxRequestsPerSecond = number("GITLAB_MAX_REQUESTS_PER_SECOND");
  const idleRequestsPerSecond = number("GITLAB_IDLE_REQUESTS_PER_SECOND");
  if (idleRequestsPerSecond > maxRequestsPerSecond) {
    throw new ConfigError(
      "GITLAB_IDLE_REQUESTS_PER_SECOND",
      String(idleRequestsPerSecond),
      `at most GITLAB_MAX_REQUESTS_PER_SECOND (${maxRequestsPerSecond})`,
    );
  }

  return {
    gitlab: {
      url,
      token,
      projects,
      groups,
      pollIntervalMs: number("GITLAB_POLL_INTERVAL_SECONDS") * 1000,
      discoveryIntervalMs: number("GITLAB_DISCOVERY_INTERVAL_SECONDS") * 1000,
      maxRequestsPerSecond,
      idleRequestsPerSecond,
      maxConcurrentRequests: number("GITLAB_MAX_CONCURRENT_REQUESTS"),
      requestTimeoutMs: number("GITLAB_REQUEST_TIMEOUT_SECONDS") * 1000,
      maxResponseBytes: number("GITLAB_MAX_RESPONSE_BYTES"),
      hotProjectTtlMs: number("GITLAB_HOT_PROJECT_TTL_SECONDS") * 1000,
      readPath: get("GITLAB_READ_PATH", parseEnum) as GitLabConfig["readPath"],
      sweepIntervalMs: number("GITLAB_SWEEP_INTERVAL_SECONDS") * 1000,
    },
    webhook: {
      secret: secretFrom(raw, "GITLAB_WEBHOOK_SECRET", "GITLAB_WEBHOOK_SECRET_FILE", false),
      allowUnauthenticated: get("GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED", parseBoolean)!,
      maxBodyBytes: number("GITLAB_WEBHOOK_MAX_BODY_BYTES"),
    },
    kube: kubernetesConfig(raw, url),
    web: webConfig(raw),
    listen: get("LISTEN_ADDRESS", parseListen)!,
    http: httpLimits(number),
    logLevel: get("LOG_LEVEL", parseEnum)!,
    maxSeriesPerFamily: number("MAX_SERIES_PER_FAMILY"),
    labelValueMaxBytes: number("LABEL_VALUE_MAX_BYTES"),
  };
}

/** Reads one setting: its value given, else its default, parsed; undefined when neither. */
function settingReader(raw: RawSettings) {
  return <T>(name: SettingName, parse: (value: string, spec: SettingSpec) => T): T | undefined => {
    const spec = settingSpec(name);
    const value = raw[name] ?? spec.default;
    return value === undefined ? undefined : parse(value, spec);
  };
}

function httpLimits(number: (name: SettingName) => number): HttpLimits {
  const headersTimeoutMs = number("HTTP_HEADERS_TIMEOUT_SECONDS") * 1000;
  const requestTimeoutMs = number("HTTP_REQUEST_TIMEOUT_SECONDS") * 1000;
  // The headers are part of the request: Node refuses a headers timeout above the request timeout.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("HTTP_HEADERS_TIMEOUT_SECONDS", String(headersTimeoutMs / 1000), `at most HTTP_REQUEST_TIMEOUT_SECONDS (${requestTimeoutMs / 1000})`);
  }
  return { maxConnections: number("HTTP_MAX_CONNECTIONS"), headersTimeoutMs, requestTimeoutMs, idleTimeoutMs: number("HTTP_IDLE_TIMEOUT_SECONDS") * 1000 };
}

function kubernetesConfig(raw: RawSettings, gitlabUrl: string): KubernetesConfig {
  const setting = settingReader(raw);
  const keys = (name: SettingName) => setting(name, parseKeyList) ?? [];
  const retryInitialMs = setting("KUBE_RETRY_INITIAL_SECONDS", parseNumber)! * 1000;
  const retryMaxMs = setting("KUBE_RETRY_MAX_SECONDS", parseNumber)! * 1000;
  if (retryInitialMs > retryMaxMs) {
    throw new ConfigError("KUBE_RETRY_INITIAL_SECONDS", String(retryInitialMs / 1000), `at most KUBE_RETRY_MAX_SECONDS (${retryMaxMs / 1000})`);
  }
  const kubeconfig = nonEmpty(raw.KUBECONFIG);
  return {
    enabled: setting("KUBE_ENABLED", parseBoolean)!,
    kubeconfigPaths: kubeconfig === undefined ? [] : kubeconfig.split(delimiter).filter((path) => path !== ""),
    namespaces: setting("KUBE_NAMESPACES", parseNamespaces) ?? [],
    nodesEnabled: setting("KUBE_NODES_ENABLED", parseBoolean)!,
    watchStallMs: setting("KUBE_WATCH_STALL_SECONDS", parseNumber)! * 1000,
    retryInitialMs,
    retryMaxMs,
    interruptionSettleMs: setting("KUBE_INTERRUPTION_SETTLE_SECONDS", parseNumber)! * 1000,
    limits: {
      maxWatchLineBytes: setting("KUBE_MAX_WATCH_LINE_BYTES", parseNumber)!,
      maxListPageBytes: setting("KUBE_MAX_LIST_PAGE_BYTES", parseNumber)!,
      maxListPages: setting("KUBE_MAX_LIST_PAGES", parseNumber)!,
      maxListItems: setting("KUBE_MAX_LIST_ITEMS", parseNumber)!,
    },
    pods: {
      jobPod: {
        keys: {
          jobId: keys("KUBE_JOB_ID_KEYS"),
          jobUrl: keys("KUBE_JOB_URL_KEYS"),
          ref: keys("KUBE_JOB_REF_KEYS"),
          jobName: keys("KUBE_JOB_NAME_KEYS"),
          projectPath: keys("KUBE_PROJECT_PATH_KEYS"),
          projectId: keys("KUBE_PROJECT_ID_KEYS"),
          pipelineId: keys("KUBE_PIPELINE_ID_KEYS"),
          runnerName: keys("KUBE_RUNNER_NAME_KEYS"),
        },
        gitlabBasePath: new URL(gitlabUrl).pathname.replace(/\/+$/, ""),
        refMaxLength: setting("KUBE_REF_MAX_LENGTH", parseNumber)!,
      },
      builders: setting("KUBE_BUILDER_IMAGES", parseBuilderImages) ?? [],
    },
    nodes: {
      spotSelectors: setting("KUBE_SPOT_NODE_SELECTORS", parseSelectors) ?? [],
      nodegroupKeys: keys("KUBE_NODEGROUP_KEYS"),
      instanceTypeKeys: keys("KUBE_INSTANCE_TYPE_KEYS"),
      zoneKeys: keys("KUBE_ZONE_KEYS"),
    },
  };
}

function webConfig(raw: RawSettings): WebConfig {
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

function secretFrom(raw: RawSettings, inline: SettingName, file: SettingName, required: boolean): Secret | null {
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
