import { delimiter } from "node:path";
import type { BuilderImage } from "../domain/builder.js";
import type { PriceTable } from "../domain/cost.js";
import type { JobPodOptions } from "../domain/job-pod.js";
import type { LabelSelector } from "../domain/node.js";
import { ConfigError } from "./errors.js";
import { parseArgs } from "./args.js";
import { readConfigFile, type RawSettings } from "./file.js";
import { readPriceTable } from "./prices.js";
import { nonEmpty, parseBoolean, parseBuilderImages, parseEnum, parseKeyList, parseList, parseListen, parseNamespaces, parseNumber, parseSelectors, parseUrl } from "./parse.js";
import type { Secret } from "./secret.js";
import { holdsSecret, SETTINGS, type SettingName } from "./settings.js";
import { secretFrom, settingReader } from "./read.js";
import { httpLimits, webConfig, webhookConfig, type HttpLimits, type WebConfig, type WebhookConfig } from "./server-config.js";
import { shardingConfig, shardTokenFile, type ShardingConfig } from "./sharding.js";

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
  /** `KUBE_EXPORT_POD_RESOURCES`: the job pods' requests and limits, for clusters without kube-state-metrics. */
  readonly exportPodResources: boolean;
  /** What one answer of the API server may weigh, and how far one list may run. */
  readonly limits: KubernetesReadLimits;
  readonly pods: { readonly jobPod: JobPodOptions; readonly builders: readonly BuilderImage[] };
  readonly nodes: { readonly spotSelectors: readonly LabelSelector[]; readonly nodegroupKeys: readonly string[]; readonly instanceTypeKeys: readonly string[]; readonly zoneKeys: readonly string[] };
  /** `KUBE_NODE_PRICES_FILE`, read; null: no prices, only the price-free counters. */
  readonly prices: PriceTable | null;
  /** `KUBE_COST_COUNTERS`, resolved: whether the cost state runs (always with a price table). */
  readonly costCounters: boolean;
}

/** What one answer of the Kubernetes API may weigh, and how far one list may run: a peer is read only so far. */
export interface KubernetesReadLimits {
  readonly maxWatchLineBytes: number;
  readonly maxListPageBytes: number;
  readonly maxListPages: number;
  readonly maxListItems: number;
}


export interface Config {
  readonly gitlab: GitLabConfig;
  readonly kube: KubernetesConfig;
  readonly webhook: WebhookConfig;
  readonly web: WebConfig;
  readonly listen: { readonly host: string; readonly port: number };
  readonly http: HttpLimits;
  readonly logLevel: string;
  /** After a stop signal: how long everything is still served, readiness failing, before the drain. */
  readonly shutdownGraceMs: number;
  readonly maxSeriesPerFamily: number;
  readonly labelValueMaxBytes: number;
  /** This replica's part of the work (`SHARD`, `TOTAL_SHARDS`, `SHARD_REPLICAS`). */
  readonly sharding: ShardingConfig;
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
  const webhook = webhookConfig(raw);
  const sharding = shardingConfig(raw, { kubeEnabled: get("KUBE_ENABLED", parseBoolean)!, webhooks: webhook.secret !== null || webhook.allowUnauthenticated });
  // A token file naming {shard} is each shard's own.
  const token = secretFrom({ ...raw, GITLAB_TOKEN_FILE: shardTokenFile(raw.GITLAB_TOKEN_FILE, sharding.shard) }, "GITLAB_TOKEN", "GITLAB_TOKEN_FILE", true)!;
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
    webhook,
    kube: kubernetesConfig(raw, url),
    web: webConfig(raw),
    listen: get("LISTEN_ADDRESS", parseListen)!,
    http: httpLimits(number),
    logLevel: get("LOG_LEVEL", parseEnum)!,
    shutdownGraceMs: number("SHUTDOWN_GRACE_SECONDS") * 1000,
    maxSeriesPerFamily: number("MAX_SERIES_PER_FAMILY"),
    labelValueMaxBytes: number("LABEL_VALUE_MAX_BYTES"),
    sharding,
  };
}




/** `auto`: count exactly when there are prices; prices with the counters off make no sense. */
function costCounters(value: string, priced: boolean): boolean {
  if (value === "false" && priced) throw new ConfigError("KUBE_COST_COUNTERS", value, "not false while KUBE_NODE_PRICES_FILE is set (the cost families need the counters)");
  return value === "auto" ? priced : value === "true";
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
  const pricesFile = nonEmpty(raw.KUBE_NODE_PRICES_FILE);
  return {
    enabled: setting("KUBE_ENABLED", parseBoolean)!,
    kubeconfigPaths: kubeconfig === undefined ? [] : kubeconfig.split(delimiter).filter((path) => path !== ""),
    namespaces: setting("KUBE_NAMESPACES", parseNamespaces) ?? [],
    nodesEnabled: setting("KUBE_NODES_ENABLED", parseBoolean)!,
    watchStallMs: setting("KUBE_WATCH_STALL_SECONDS", parseNumber)! * 1000,
    retryInitialMs,
    retryMaxMs,
    interruptionSettleMs: setting("KUBE_INTERRUPTION_SETTLE_SECONDS", parseNumber)! * 1000,
    exportPodResources: setting("KUBE_EXPORT_POD_RESOURCES", parseBoolean)!,
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
    prices: pricesFile === undefined ? null : readPriceTable(pricesFile),
    costCounters: costCounters(setting("KUBE_COST_COUNTERS", parseEnum)!, pricesFile !== undefined),
  };
}

