import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { BASE_ENV, configErrorOf } from "../../helpers/config.js";

const hooks = { GITLAB_WEBHOOK_SECRET: "hook-secret" };

describe("sharding settings", () => {
  it("run one shard of one by default", () => {
    expect(loadConfig(BASE_ENV).sharding).toMatchObject({ shard: 0, total: 1, replicasPerShard: 1, pod: null, peers: [], ownToken: false, leaseDurationMs: 15_000 });
  });

  it("take a shard and a total, and the peers webhooks are forwarded to", () => {
    const peers = "http://e-0.p:9863,http://e-1.p:9863,http://e-2.p:9863";
    const sharding = loadConfig({ ...BASE_ENV, ...hooks, SHARD: "2", TOTAL_SHARDS: "3", SHARD_PEERS: peers }).sharding;
    expect(sharding).toMatchObject({ shard: 2, total: 3, peers: peers.split(",") });
  });

  it("read the shard from the StatefulSet ordinal with SHARD=auto, shards being consecutive ordinals", () => {
    const sharding = loadConfig({ ...BASE_ENV, ...hooks, SHARD: "auto", TOTAL_SHARDS: "auto", SHARD_REPLICAS: "2", POD_NAME: "exporter-5", POD_NAMESPACE: "monitoring" }).sharding;
    expect(sharding).toMatchObject({ shard: 2, total: "auto", replicasPerShard: 2, pod: { name: "exporter-5", statefulSet: "exporter", ordinal: 5 }, namespace: "monitoring", peers: "auto" });
  });

  it.each([
    [{ SHARD: "3", TOTAL_SHARDS: "3" }, "SHARD"],
    [{ SHARD: "-1" }, "SHARD"],
    [{ TOTAL_SHARDS: "0" }, "TOTAL_SHARDS"],
    [{ TOTAL_SHARDS: "two" }, "TOTAL_SHARDS"],
    [{ SHARD: "auto" }, "POD_NAME"],
    [{ SHARD: "auto", POD_NAME: "exporter" }, "POD_NAME"],
    [{ SHARD: "auto", POD_NAME: "exporter-4", TOTAL_SHARDS: "3" }, "SHARD"],
    [{ SHARD: "1", TOTAL_SHARDS: "2", SHARD_REPLICAS: "2", POD_NAME: "exporter-2" }, "SHARD"],
    [{ SHARD: "1", TOTAL_SHARDS: "2", GITLAB_WEBHOOK_SECRET: "s" }, "SHARD_PEERS"],
    [{ SHARD: "1", TOTAL_SHARDS: "2", GITLAB_WEBHOOK_SECRET: "s", SHARD_PEERS: "http://e-0:9863" }, "SHARD_PEERS"],
    [{ SHARD: "auto", TOTAL_SHARDS: "auto", POD_NAME: "exporter-0", KUBE_ENABLED: "false" }, "KUBE_ENABLED"],
    [{ SHARD: "auto", TOTAL_SHARDS: "2", POD_NAME: "exporter-0", KUBE_ENABLED: "false", GITLAB_WEBHOOK_SECRET: "s" }, "SHARD_PEERS"],
  ] as Array<[Record<string, string>, string]>)("refuse %o, naming %s", (env, setting) => {
    expect(configErrorOf(() => loadConfig({ ...BASE_ENV, ...env })).setting).toBe(setting);
  });

  it("need no peers without webhooks", () => {
    expect(loadConfig({ ...BASE_ENV, SHARD: "1", TOTAL_SHARDS: "2" }).sharding.peers).toEqual([]);
  });

  it("read each shard's own token from a file naming {shard}", () => {
    const dir = mkdtempSync(join(tmpdir(), "shard-token-"));
    writeFileSync(join(dir, "token-1"), "glpat-shard-one\n");
    const { GITLAB_TOKEN: _, ...env } = BASE_ENV;
    const config = loadConfig({ ...env, SHARD: "1", TOTAL_SHARDS: "2", GITLAB_TOKEN_FILE: join(dir, "token-{shard}") });
    expect(config.gitlab.token.value()).toBe("glpat-shard-one");
    expect(config.sharding.ownToken).toBe(true);
  });
});
