import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { priceTableFrom } from "../../src/config/prices.js";
import { DEFAULT_BUILDER_IMAGES } from "../../src/domain/builder.js";
import type { PodSnapshot } from "../../src/domain/pod.js";
import { RUNNER_JOB_POD_KEYS } from "../../src/domain/job-pod.js";
import { buildOnDemandNode, buildRunnerJobPod, buildSpotNode, podCreating, podRunning, simulatedPricesYaml } from "../../src/simulator/kube/index.js";
import { toNodeSnapshot, toPodSnapshot, type PodRecognition } from "../../src/sources/kube/wire.js";
import { DEFAULT_INSTANCE_TYPE_KEYS, DEFAULT_NODEGROUP_KEYS, DEFAULT_SPOT_SELECTORS, DEFAULT_ZONE_KEYS } from "../../src/domain/node.js";
import { buildHouse } from "../../src/wiring.js";
import { parseMetrics, sum } from "../helpers/prom.js";

/**
 * What CI costs at 10,000 projects and 100,000 branch names: 100,000 priced job pods churned
 * through the real state and families with a small cap per family. Every cost family stays at
 * or under the cap, the label sets left out are counted, and the heap stays bounded.
 */
const PROJECTS = 10_000;
const PODS = 100_000;
const LIVE = 1_000;
const CAP = 2_000;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapMiB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const COST_FAMILIES = [
  "gitlab_ci_job_cpu_core_seconds_total",
  "gitlab_ci_job_memory_byte_seconds_total",
  "gitlab_ci_job_cost_total",
  "gitlab_ci_job_on_demand_cost_total",
  "gitlab_ci_job_cost_by_ref_total",
  "gitlab_ci_job_cost_by_job_name_total",
  "gitlab_ci_node_occupied_seconds_total",
  "gitlab_ci_node_idle_seconds_total",
  "gitlab_ci_node_idle_cost_total",
];
const summary: string[] = [];
afterAll(() => console.log(`Cost cardinality: ${summary.join("; ")}`));

describe("cost cardinality at 10,000 projects and 100,000 branch names", () => {
  it("keeps every cost family at the cap, counts the label sets it leaves out, and the heap bounded", async () => {
    const prices = priceTableFrom(parse(simulatedPricesYaml()), "simulated");
    const { state, exposition } = buildHouse({ maxSeriesPerFamily: CAP, processMetrics: false, prices });
    const { nodes, pods } = state.kube!;
    const nowMs = Date.now();
    const nodeRecognition = { spotSelectors: DEFAULT_SPOT_SELECTORS, nodegroupKeys: DEFAULT_NODEGROUP_KEYS, instanceTypeKeys: DEFAULT_INSTANCE_TYPE_KEYS, zoneKeys: DEFAULT_ZONE_KEYS };
    const types = ["m6i.2xlarge", "c6i.4xlarge", "m5.2xlarge"];
    for (let i = 0; i < 300; i++) {
      const options = { name: `node-${i}`, instanceType: types[i % 3]!, nodegroup: i < 200 ? `ci-spot-${i % 4}` : "ci-ondemand", createdAt: new Date(nowMs - 3_600_000) };
      const raw = i < 200 ? buildSpotNode(options) : buildOnDemandNode(options);
      raw.metadata!.uid = `node-uid-${i}`;
      nodes.upsert(toNodeSnapshot(raw, nodeRecognition)!, nowMs);
    }
    const recognition: PodRecognition = { jobPod: { keys: RUNNER_JOB_POD_KEYS, gitlabBasePath: "", refMaxLength: 128 }, builders: DEFAULT_BUILDER_IMAGES };
    const pod = (i: number): PodSnapshot => {
      const raw = buildRunnerJobPod({ projectId: i % PROJECTS, projectPath: `group-${i % 100}/project-${i % PROJECTS}`, jobId: 5_000_000 + i, jobName: `job-${i % 50}`, ref: `feature/PLAT-${i}-fix`, suffix: `p${i}` });
      raw.metadata!.uid = `uid-${i}`;
      podCreating(raw, `node-${i % 300}`, new Date(nowMs - 60_000));
      podRunning(raw, new Date(nowMs - 55_000));
      return toPodSnapshot(raw, recognition)!;
    };
    let early = 0;
    for (let i = 0; i < PODS; i++) {
      pods.upsert(pod(i), { nowMs, observeEndedBuilds: true });
      if (i >= LIVE) pods.remove({ ...pods.get(`uid-${i - LIVE}`)!, phase: "Succeeded", finishedAtMs: nowMs }, nowMs);
      if (i % 10_000 === 0) await exposition.text();
      if (i === PODS / 10) early = heapMiB();
    }
    const late = heapMiB();
    const samples = parseMetrics(await exposition.text());
    const sizes = Object.fromEntries(COST_FAMILIES.map((family) => [family, samples.filter((s) => s.name === family).length]));
    for (const family of COST_FAMILIES) expect(sizes[family], family).toBeLessThanOrEqual(CAP);
    expect(sizes.gitlab_ci_job_cost_by_ref_total).toBeGreaterThan(CAP * 0.8);
    const dropped = sum(samples, "gitlab_ci_exporter_series_dropped_total", { family: "gitlab_ci_job_cost_by_ref_total" });
    // Every ref was paid for: shown, or counted as left out.
    expect(dropped + sizes.gitlab_ci_job_cost_by_ref_total!).toBe(PODS);
    // The live pods' refs are among those shown.
    const shown = new Set(samples.filter((s) => s.name === "gitlab_ci_job_cost_by_ref_total").map((s) => s.labels.ref));
    for (let i = PODS - LIVE; i < PODS; i++) expect(shown.has(`feature/PLAT-${i}-fix`), `ref of live pod ${i}`).toBe(true);
    expect(late - early).toBeLessThan(16);
    summary.push(`${PODS} priced job pods, ${PROJECTS} projects, ${PODS} refs: series ${JSON.stringify(sizes)} (cap ${CAP}), ${dropped} ref label sets left out, heap ${early.toFixed(1)} → ${late.toFixed(1)} MiB`);
  }, 300_000);
});
