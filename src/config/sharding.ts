import { shardOfOrdinal, statefulSetPod } from "../domain/shard.js";
import { ConfigError } from "./errors.js";
import type { RawSettings } from "./file.js";
import { nonEmpty, parseList, parseNumber, parseUrl } from "./parse.js";
import { settingReader } from "./read.js";
import type { SettingSpec } from "./settings.js";

/** How this replica takes its part of the work: `SHARD`, `TOTAL_SHARDS` and their companions. */
export interface ShardingConfig {
  /** This replica's shard (with `SHARD=auto`, its StatefulSet ordinal divided by `replicasPerShard`). */
  readonly shard: number;
  /** How many shards; `auto`: the StatefulSet's replicas divided by `replicasPerShard`. */
  readonly total: number | "auto";
  readonly replicasPerShard: number;
  /** This pod as a StatefulSet pod, when `POD_NAME` names one. */
  readonly pod: { readonly name: string; readonly statefulSet: string; readonly ordinal: number } | null;
  /** `POD_NAMESPACE`; null: the service account's. */
  readonly namespace: string | null;
  /** Every replica's base URL by ordinal; `auto`: from the StatefulSet's headless Service. */
  readonly peers: readonly string[] | "auto";
  readonly leaseDurationMs: number;
  /** `GITLAB_TOKEN_FILE` names `{shard}`: this shard's token is its own user's and spends the whole budget. */
  readonly ownToken: boolean;
}

/** The most shards: far more than any GitLab instance's projects call for. */
export const MAX_SHARDS = 1024;
/** Stands for the shard's number in `GITLAB_TOKEN_FILE`. */
export const SHARD_PLACEHOLDER = "{shard}";

/** `auto`, or a whole number within the bounds. */
function autoOrCount(value: string, spec: SettingSpec, min: number, max: number): number | "auto" {
  if (value.trim().toLowerCase() === "auto") return "auto";
  return parseNumber(value.trim(), { ...spec, kind: "integer", min, max });
}

export function shardingConfig(raw: RawSettings, options: { readonly kubeEnabled: boolean; readonly webhooks: boolean }): ShardingConfig {
  const get = settingReader(raw);
  const total = get("TOTAL_SHARDS", (value, spec) => autoOrCount(value, spec, 1, MAX_SHARDS))!;
  const replicasPerShard = get("SHARD_REPLICAS", parseNumber)!;
  const shardSetting = get("SHARD", (value, spec) => autoOrCount(value, spec, 0, MAX_SHARDS - 1))!;
  const podName = nonEmpty(raw.POD_NAME);
  const pod = podName === undefined ? null : statefulSetPod(podName);
  const needsPod = shardSetting === "auto" || total === "auto" || replicasPerShard > 1;
  if (needsPod && pod === null) {
    throw new ConfigError("POD_NAME", podName === undefined ? undefined : JSON.stringify(podName), "the name of this StatefulSet pod, <statefulset>-<ordinal> (the downward API's metadata.name), for SHARD=auto, TOTAL_SHARDS=auto or SHARD_REPLICAS above 1");
  }
  if (replicasPerShard > 1 && shardSetting !== "auto") {
    throw new ConfigError("SHARD", JSON.stringify(raw.SHARD ?? "0"), "auto when SHARD_REPLICAS is above 1: the replicas of a shard are consecutive StatefulSet ordinals");
  }
  if ((total === "auto" || replicasPerShard > 1) && !options.kubeEnabled) {
    throw new ConfigError("KUBE_ENABLED", '"false"', "true for TOTAL_SHARDS=auto and SHARD_REPLICAS above 1, which read the StatefulSet and hold Leases");
  }
  const shard = shardSetting === "auto" ? shardOfOrdinal(pod!.ordinal, replicasPerShard) : shardSetting;
  if (total !== "auto" && shard >= total) {
    throw new ConfigError("SHARD", JSON.stringify(raw.SHARD ?? String(shard)), `a shard from 0 to TOTAL_SHARDS - 1 (${total - 1})${shardSetting === "auto" ? `; POD_NAME's ordinal ${pod!.ordinal} with SHARD_REPLICAS=${replicasPerShard} is shard ${shard}` : ""}`);
  }
  const sharded = total === "auto" || total > 1 || replicasPerShard > 1;
  const peers = peersOf(raw, { sharded: sharded && options.webhooks, auto: shardSetting === "auto", needed: total === "auto" ? null : total * replicasPerShard });
  if (peers === "auto" && !options.kubeEnabled) {
    throw new ConfigError("SHARD_PEERS", undefined, "the base URL of every replica by ordinal, or KUBE_ENABLED=true to name them after the StatefulSet's Service");
  }
  return {
    shard,
    total,
    replicasPerShard,
    pod: pod && { name: podName!, ...pod },
    namespace: nonEmpty(raw.POD_NAMESPACE) ?? null,
    peers,
    leaseDurationMs: get("SHARD_LEASE_DURATION_SECONDS", parseNumber)! * 1000,
    ownToken: (nonEmpty(raw.GITLAB_TOKEN_FILE) ?? "").includes(SHARD_PLACEHOLDER),
  };
}

/**
 * Where deliveries for other shards go. Needed when webhooks are on and the work is split; with
 * `SHARD=auto` the StatefulSet's headless Service names them, otherwise `SHARD_PEERS` must.
 */
function peersOf(raw: RawSettings, need: { readonly sharded: boolean; readonly auto: boolean; readonly needed: number | null }): readonly string[] | "auto" {
  const given = nonEmpty(raw.SHARD_PEERS);
  if (given === undefined) {
    if (need.sharded && !need.auto) throw new ConfigError("SHARD_PEERS", undefined, "the base URL of every replica by ordinal, e.g. http://exporter-0.exporter-peers:9863,http://exporter-1.exporter-peers:9863 (or SHARD=auto), so that webhook deliveries reach the shard of their project");
    return need.sharded ? "auto" : [];
  }
  const spec = { name: "SHARD_PEERS", kind: "url", description: "" } as const;
  const peers = parseList(given).map((url) => parseUrl(url, spec));
  if (need.needed !== null && peers.length < need.needed) {
    throw new ConfigError("SHARD_PEERS", JSON.stringify(given), `a base URL for each of the ${need.needed} replicas (TOTAL_SHARDS × SHARD_REPLICAS), by ordinal`);
  }
  return peers;
}

/** `GITLAB_TOKEN_FILE` with `{shard}` replaced by the shard's number. */
export function shardTokenFile(path: string | undefined, shard: number): string | undefined {
  return path?.split(SHARD_PLACEHOLDER).join(String(shard));
}
