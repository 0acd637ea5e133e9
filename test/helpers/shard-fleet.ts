import { onTestFailed } from "vitest";
import { freePort, spawnExporter, waitFor, type ExporterProcess } from "./exporter-process.js";
import { scrape, type Sample } from "./prom.js";
import { startReadinessService, type ReadinessService } from "./readiness-service.js";

/** One replica of a StatefulSet of exporter processes: its ordinal, port and pod name stay across restarts. */
export interface FleetReplica {
  readonly ordinal: number;
  readonly podName: string;
  readonly port: number;
  readonly url: string;
  process: ExporterProcess | null;
}

export interface ShardFleet {
  readonly replicas: readonly FleetReplica[];
  /** Every replica's base URL, by ordinal: their SHARD_PEERS. */
  readonly peers: readonly string[];
  /** Starts (or restarts) the replica's process on its own port. */
  spawn(ordinal: number): Promise<ExporterProcess>;
  /** SIGKILL, as a node lost or an OOM kill would. */
  kill(ordinal: number): Promise<void>;
  /** Every live replica's samples, by ordinal. */
  scrapeAll(): Promise<Map<number, Sample[]>>;
  /** Every process's output, for a failing test. */
  outputs(): string;
  close(): Promise<void>;
}

/**
 * Exporter processes as a StatefulSet runs them: `exporter-<ordinal>`, each on a port of its own
 * that its peers know (`SHARD_PEERS`), `SHARD=auto` from the pod name. `env` is shared; `TOTAL_SHARDS`
 * and `SHARD_REPLICAS` come from it.
 */
export async function startShardFleet(size: number, env: Record<string, string>, options: { statefulSet?: string } = {}): Promise<ShardFleet> {
  const name = options.statefulSet ?? "exporter";
  const replicas: FleetReplica[] = [];
  for (let ordinal = 0; ordinal < size; ordinal++) {
    const port = await freePort();
    replicas.push({ ordinal, podName: `${name}-${ordinal}`, port, url: `http://127.0.0.1:${port}`, process: null });
  }
  const peers = replicas.map((r) => r.url);
  const fleet: ShardFleet = {
    replicas,
    peers,
    async spawn(ordinal) {
      const replica = replicas[ordinal]!;
      replica.process = await spawnExporter({ SHARD: "auto", POD_NAME: replica.podName, POD_NAMESPACE: "monitoring", SHARD_PEERS: peers.join(","), ...env }, { port: replica.port });
      return replica.process;
    },
    async kill(ordinal) {
      await replicas[ordinal]!.process?.kill();
      replicas[ordinal]!.process = null;
    },
    async scrapeAll() {
      const result = new Map<number, Sample[]>();
      await Promise.all(replicas.filter((r) => r.process).map(async (r) => result.set(r.ordinal, await scrape(r.url))));
      return result;
    },
    outputs: () => replicas.map((r) => `exporter-${r.ordinal}:\n${r.process?.output().slice(-4000) ?? "(not running)"}`).join("\n"),
    async close() {
      await Promise.all(replicas.map((r) => r.process?.kill()));
    },
  };
  return fleet;
}

/** Waits for every running replica's `/readyz`. */
export async function waitFleetReady(fleet: ShardFleet, timeoutMs = 60_000): Promise<void> {
  await Promise.all(fleet.replicas.filter((r) => r.process).map((r) => waitFor(r.process!, "/readyz", timeoutMs)));
}

/**
 * Spawns every replica of the fleet, waits for their `/readyz`, and puts them behind a Service
 * that routes by readiness, as a Kubernetes Service does; what it starts is stopped through
 * `cleanup`, and the replicas' logs are printed when the test fails.
 */
export async function startFleetBehindService(fleet: ShardFleet, cleanup: Array<() => Promise<unknown>>): Promise<ReadinessService> {
  cleanup.push(() => fleet.close());
  onTestFailed(() => console.error(fleet.outputs()));
  await Promise.all(fleet.replicas.map((r) => fleet.spawn(r.ordinal)));
  await waitFleetReady(fleet);
  const service = await startReadinessService({ probeIntervalMs: 200 });
  cleanup.push(() => service.close());
  for (const replica of fleet.replicas) service.add(replica.url);
  await service.waitForRotation(fleet.peers);
  return service;
}
