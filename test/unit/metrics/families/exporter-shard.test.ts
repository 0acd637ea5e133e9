import { describe, expect, it } from "vitest";
import { CountingGate } from "../../../../src/lib/counting-gate.js";
import { EXPORTER_SHARD_FAMILIES } from "../../../../src/metrics/families/exporter-shard.js";
import { SelfHealth } from "../../../../src/state/self-health.js";
import { buildHouse } from "../../../../src/wiring.js";
import { familiesOf } from "../../../helpers/families.js";
import { parseMetrics, sum } from "../../../helpers/prom.js";
import { jobPod } from "../../../helpers/snapshots.js";

describe("the exporter's shard families", () => {
  it("tell the shard of how many, whether this replica is active, and the deliveries forwarded", () => {
    const health = new SelfHealth();
    const { series } = familiesOf(EXPORTER_SHARD_FAMILIES, { health });
    expect(series("gitlab_ci_exporter_shard")).toEqual([[{ shard: "0", total_shards: "1" }, 1]]);
    expect(series("gitlab_ci_exporter_active")).toEqual([[{}, 1]]);
    health.replica = { shard: 2, totalShards: 3, active: false };
    health.webhookForwarded("delivered");
    health.webhookForwarded("delivered");
    expect(series("gitlab_ci_exporter_shard")).toEqual([[{ shard: "2", total_shards: "3" }, 1]]);
    expect(series("gitlab_ci_exporter_active")).toEqual([[{}, 0]]);
    expect(series("gitlab_ci_exporter_webhook_forwards_total")).toEqual([
      [{ outcome: "delivered" }, 2],
      [{ outcome: "failed" }, 0],
    ]);
  });
});

describe("a standby's exposition", () => {
  it("leaves the shard's series out and holds its counts back, until it takes over from a moment", async () => {
    let now = 1_000;
    let standby = true;
    const gate = new CountingGate({ open: false, holdMs: 60_000, maxHeld: 100, now: () => now });
    const { state, exposition } = buildHouse({ processMetrics: false, standby: () => standby, gate });
    const { pods, nodes } = state.kube!;
    const samples = async () => parseMetrics(await exposition.text());
    const names = async () => new Set((await samples()).map((s) => s.name));
    nodes.upsert({ name: "n1", uid: "n1", createdAtMs: 0, deletingSinceMs: null, spot: true, instanceType: "m5", zone: "a", nodegroup: "g", evidence: null, readySinceMs: null }, now);
    pods.upsert(jobPod("before", { disruption: "EvictionByEvictionAPI", uid: "before" }), { nowMs: now, observeEndedBuilds: true });
    pods.remove(jobPod("before", { disruption: "EvictionByEvictionAPI", uid: "before" }), now);
    now = 5_000;
    pods.upsert(jobPod("after", { disruption: "EvictionByEvictionAPI", uid: "after" }), { nowMs: now, observeEndedBuilds: true });
    pods.remove(jobPod("after", { disruption: "EvictionByEvictionAPI", uid: "after" }), now);
    pods.upsert(jobPod("live"), { nowMs: now, observeEndedBuilds: true });

    const standing = await names();
    expect(standing.has("gitlab_ci_job_pod_info")).toBe(false);
    expect(standing.has("gitlab_ci_spot_nodes")).toBe(false);
    expect(standing.has("gitlab_ci_exporter_active")).toBe(true);
    const text = await exposition.text();
    expect(text).toContain("# TYPE gitlab_ci_exporter_invalid_objects_total counter");
    expect(text).not.toContain("# TYPE gitlab_ci_jobs_finished_total");

    // Taking over from 4 s: the interruption at 1 s was its predecessor's, the one at 5 s is its own.
    standby = false;
    gate.openFrom(4_000);
    const active = await samples();
    expect(sum(active, "gitlab_ci_job_pod_info")).toBe(1);
    expect(sum(active, "gitlab_ci_spot_nodes")).toBe(1);
    expect(sum(active, "gitlab_ci_job_pods_interrupted_total")).toBe(1);
  });
});
