import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { shardOfProject } from "../../src/domain/shard.js";
import { ShardReplica } from "../../src/replica.js";
import { GitLabWorld, startGitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { KubeWorld, startKubeSimulator } from "../../src/simulator/kube/index.js";
import { loadKubeConfig } from "../../src/sources/kube/client.js";
import { eventually } from "../helpers/prom.js";

/**
 * `SHARD=auto` and `TOTAL_SHARDS=auto`, as kube-state-metrics' auto-sharding: the shard from the
 * pod's ordinal, the number of shards from its StatefulSet's replicas, read through the API (the
 * simulator's StatefulSet), and read again: scaling the StatefulSet splits the work anew.
 */
const TOKEN = "glpat-auto-0123456789";
let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe("auto-sharding from the StatefulSet", () => {
  it("takes its shard from its ordinal and the total from the StatefulSet, and splits anew when it is scaled", async () => {
    const world = new GitLabWorld();
    world.addGroup("acme");
    const ids = Array.from({ length: 40 }, (_, i) => world.addProject(`acme/service-${i}`).id);
    const gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
    cleanup.push(() => gitlab.close());
    const kube = await startKubeSimulator({ world: new KubeWorld() });
    cleanup.push(() => kube.close());
    kube.objects.addStatefulSet("monitoring", "exporter", { replicas: 3, serviceName: "exporter-peers" });
    const dir = await mkdtemp(path.join(tmpdir(), "shard-auto-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = path.join(dir, "kubeconfig");
    await writeFile(kubeconfig, kube.kubeconfig());
    const config = loadConfig({
      GITLAB_URL: gitlab.url,
      GITLAB_TOKEN: TOKEN,
      GITLAB_GROUPS: "acme",
      GITLAB_WEBHOOK_SECRET: "secret",
      GITLAB_MAX_REQUESTS_PER_SECOND: "90",
      KUBECONFIG: kubeconfig,
      LISTEN_ADDRESS: "127.0.0.1:9999",
      POD_NAME: "exporter-1",
      POD_NAMESPACE: "monitoring",
      SHARD: "auto",
      TOTAL_SHARDS: "auto",
      SHARD_LEASE_DURATION_SECONDS: "2",
    });
    const replica = await ShardReplica.create(config, loadKubeConfig([kubeconfig]), pino({ level: "silent" }), { recheckMs: 200 });
    cleanup.push(() => replica.stop());
    const routing = replica.webhookShards()!.routing;
    expect(routing.peersOf(2)).toEqual(["http://exporter-2.exporter-peers.monitoring.svc:9999"]);
    expect(routing.peersOf(1)).toEqual([]);
    replica.start();

    const watched = () => replica.generation.state.projects.all().map((p) => p.id).sort((a, b) => a - b);
    const ownOf = (total: number) => ids.filter((id) => shardOfProject(id, total) === 1);
    await eventually(() => {
      expect(replica.generation.state.health.replica).toEqual({ shard: 1, totalShards: 3, active: true });
      expect(watched()).toEqual(ownOf(3));
    }, 10_000, 50);
    expect(kube.objects.lease("monitoring", "exporter-shard-1")!.spec!.holderIdentity).toBe("exporter-1");

    kube.objects.scaleStatefulSet("monitoring", "exporter", 6);
    await eventually(() => {
      expect(replica.generation.state.health.replica).toEqual({ shard: 1, totalShards: 6, active: true });
      expect(watched()).toEqual(ownOf(6));
    }, 10_000, 50);
    expect(routing.peersOf(5)).toEqual(["http://exporter-5.exporter-peers.monitoring.svc:9999"]);
    expect(ownOf(6).length).toBeLessThan(ownOf(3).length);
  }, 30_000);
});
