import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Config } from "./config/load.js";
import { ConfigError } from "./config/errors.js";
import { ordinalsOfShard, shardOfProject, type Sharding } from "./domain/shard.js";
import { describeError } from "./lib/errors.js";
import { sleep } from "./lib/sleep.js";
import { Generation } from "./generation.js";
import { WebhookForwarder, type ShardRouting } from "./server/webhook-forward.js";
import type { WebhookShards } from "./server/webhooks.js";
import { LeaseElector, leaseApi } from "./sources/kube/lease.js";
import { readStatefulSet, serviceAccountNamespace } from "./sources/kube/statefulset.js";

/** How often `TOTAL_SHARDS=auto` reads the StatefulSet again. */
export const STATEFULSET_RECHECK_MS = 30_000;
/** The longest wait for one replica to take a forwarded delivery. */
const FORWARD_TIMEOUT_MS = 2_000;
/** Deliveries no replica of their shard took are tried again this long, within this many bytes. */
const FORWARD_HOLD_MS = 60_000;
const FORWARD_HOLD_BYTES = 32 * 1024 * 1024;

/** The split as this replica knows it now: its shard of how many, and every replica's address by ordinal. */
export interface Topology {
  readonly sharding: Sharding;
  readonly peers: readonly string[];
}

/**
 * One replica of the exporter as Kubernetes runs it: its part of the work (`Generation`), the
 * Lease that says whether it is its shard's active replica, and, with `TOTAL_SHARDS=auto`, its
 * StatefulSet read again every 30 s. A lost Lease or a new number of shards replaces the
 * generation with a fresh one; the HTTP server and the webhook routing read the current one.
 */
export class ShardReplica {
  private current: Generation;
  private readonly elector: LeaseElector | null;
  private readonly abort = new AbortController();
  private watching: Promise<void> | null = null;
  private forwarder: WebhookForwarder | null = null;
  private readonly selfOrdinal: number;

  private constructor(
    private readonly config: Config,
    private readonly kubeConfig: KubeConfig | null,
    private topology: Topology,
    private readonly logger: Logger,
    private readonly recheckMs: number,
  ) {
    const sharding = config.sharding;
    this.selfOrdinal = sharding.pod?.ordinal ?? sharding.shard;
    // A shard of one replica holds its Lease too, for its successor to count from its last renewal.
    const leased = sharding.pod !== null && (sharding.replicasPerShard > 1 || sharding.total !== 1);
    this.elector = leased && kubeConfig ? this.leaseElector(kubeConfig) : null;
    this.current = this.build(this.elector === null);
  }

  /**
   * Resolves the split (reading the StatefulSet for `auto`) and builds the first generation.
   * `recheckMs`: how often the StatefulSet is read again (tests shorten it).
   */
  static async create(config: Config, kubeConfig: KubeConfig | null, logger: Logger, options: { readonly recheckMs?: number } = {}): Promise<ShardReplica> {
    return new ShardReplica(config, kubeConfig, await resolveTopology(config, kubeConfig), logger, options.recheckMs ?? STATEFULSET_RECHECK_MS);
  }

  get generation(): Generation {
    return this.current;
  }

  start(): void {
    this.current.start();
    this.elector?.start();
    if (this.elector && this.config.sharding.replicasPerShard === 1) void this.activateAlone();
    if (this.config.sharding.total === "auto") this.watching = this.watchStatefulSet();
  }

  /**
   * A shard of one replica has nobody to wait for: when the Kubernetes API does not hand it its
   * Lease within the Lease's duration, it does the work anyway, counting from its own start.
   */
  private async activateAlone(): Promise<void> {
    await sleep(this.config.sharding.leaseDurationMs, this.abort.signal).catch(() => undefined);
    if (this.abort.signal.aborted || this.current.active) return;
    this.logger.warn("the shard's Lease could not be read; working without it, counting from this start");
    this.current.activate(null);
  }

  /** Stops the sources, then gives the Lease up, so a standby takes over at once. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.watching;
    this.forwarder?.close();
    await this.current.stop();
    await this.elector?.stop();
  }

  /** Where deliveries of other shards go; undefined when this replica does all the work alone. */
  webhookShards(): WebhookShards | undefined {
    const { sharding } = this.config;
    if (sharding.total === 1 && sharding.replicasPerShard === 1) return undefined;
    const routing: ShardRouting = {
      shardOf: (projectId) => shardOfProject(projectId, this.topology.sharding.total),
      get shard() {
        return sharding.shard;
      },
      active: () => this.current.active,
      peersOf: (shard) =>
        ordinalsOfShard(shard, sharding.replicasPerShard)
          .filter((ordinal) => ordinal !== this.selfOrdinal)
          .map((ordinal) => this.topology.peers[ordinal])
          .filter((peer): peer is string => peer !== undefined),
    };
    const forwarder = new WebhookForwarder(routing, { timeoutMs: FORWARD_TIMEOUT_MS, self: sharding.pod?.name ?? `shard-${sharding.shard}`, holdMs: FORWARD_HOLD_MS, maxHeldBytes: FORWARD_HOLD_BYTES, retryEveryMs: 500 });
    this.forwarder = forwarder;
    return { routing, forwarder, forwarded: (outcome) => this.current.state.health.webhookForwarded(outcome) };
  }

  private build(active: boolean): Generation {
    const { sharding } = this.topology;
    const logger = sharding.total > 1 || this.elector ? this.logger.child({ shard: sharding.shard, totalShards: sharding.total }) : this.logger;
    return new Generation({ config: this.config, sharding, active, kubeConfig: this.kubeConfig, logger });
  }

  /** Starts a fresh generation in place of the current one, then stops the old. */
  private replace(active: boolean, why: string): void {
    const old = this.current;
    this.current = this.build(active);
    this.current.start();
    this.logger.info({ shard: this.topology.sharding.shard, totalShards: this.topology.sharding.total, active }, why);
    old.stop().catch((error: unknown) => this.logger.warn({ err: describeError(error) }, "the replaced generation did not stop cleanly"));
  }

  private leaseElector(kubeConfig: KubeConfig): LeaseElector {
    const { sharding } = this.config;
    const pod = sharding.pod!;
    return new LeaseElector({
      api: leaseApi(kubeConfig),
      namespace: namespaceOf(this.config),
      name: `${pod.statefulSet}-shard-${sharding.shard}`,
      identity: pod.name,
      durationMs: sharding.leaseDurationMs,
      // Alone in its shard, a replica that cannot renew has nobody to hand over to: it works on.
      standDown: sharding.replicasPerShard > 1,
      log: this.logger.child({ component: "lease" }),
      onStartedLeading: (sinceMs) => this.current.activate(sinceMs),
      onStoppedLeading: () => this.replace(false, "standing by with a fresh state: another replica does the shard's work"),
    });
  }

  /** `TOTAL_SHARDS=auto`: a new number of replicas is a new split, and a new generation. */
  private async watchStatefulSet(): Promise<void> {
    const { signal } = this.abort;
    for (;;) {
      await sleep(this.recheckMs, signal).catch(() => undefined);
      if (signal.aborted) return;
      try {
        const next = await resolveTopology(this.config, this.kubeConfig);
        const before = this.topology;
        if (next.sharding.total === before.sharding.total && next.peers.join() === before.peers.join()) continue;
        this.topology = next;
        if (next.sharding.total !== before.sharding.total) this.replace(this.current.active, "the StatefulSet was scaled: starting over with the new split");
      } catch (error) {
        this.logger.warn({ err: describeError(error) }, "could not read this pod's StatefulSet; keeping the current split");
      }
    }
  }
}

/** The split and the peers, read from the StatefulSet where the settings say `auto`. */
export async function resolveTopology(config: Config, kubeConfig: KubeConfig | null): Promise<Topology> {
  const { sharding, listen, web } = config;
  const needsStatefulSet = sharding.total === "auto" || sharding.peers === "auto";
  if (!needsStatefulSet) return { sharding: { shard: sharding.shard, total: sharding.total as number }, peers: sharding.peers as readonly string[] };
  const pod = sharding.pod!;
  const namespace = namespaceOf(config);
  const shape = await readStatefulSet(kubeConfig!, namespace, pod.statefulSet);
  const total = sharding.total === "auto" ? Math.max(1, Math.floor(shape.replicas / sharding.replicasPerShard)) : sharding.total;
  const scheme = web.tls ? "https" : "http";
  const peers =
    sharding.peers === "auto"
      ? Array.from({ length: Math.max(shape.replicas, total * sharding.replicasPerShard) }, (_, ordinal) => `${scheme}://${pod.statefulSet}-${ordinal}.${shape.serviceName}.${namespace}.svc:${listen.port}`)
      : sharding.peers;
  return { sharding: { shard: sharding.shard, total }, peers };
}

/** `POD_NAMESPACE`, else the service account's. */
function namespaceOf(config: Config): string {
  const namespace = config.sharding.namespace ?? serviceAccountNamespace();
  if (namespace === null) throw new ConfigError("POD_NAMESPACE", undefined, "this pod's namespace (the downward API's metadata.namespace), where its StatefulSet and the shards' Leases are");
  return namespace;
}
