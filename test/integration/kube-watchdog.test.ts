import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRunnerJobPod, buildSpotNode, KubeWorld, podRunning } from "../../src/simulator/kube/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * A watch stream that stays open and silent past the `timeoutSeconds` it asked for, as behind a
 * proxy that keeps the client's connection after losing the server's: only the informer's own
 * watchdog can tell, and it must restart the watch and converge on the cluster.
 */
const STALL_SECONDS = 1.5;

function jobPod(jobId: number, node: string): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 3, projectPath: "acme/watchdog", jobId, jobName: `job-${jobId}`, ref: "main", nodeName: node, suffix: `w${jobId}` });
  podRunning(pod, new Date());
  return pod;
}

const shownPods = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_job_pod_info")
    .map((s) => s.labels.pod!)
    .sort();
const restarts = (samples: Sample[], resource: string) => sum(samples, "gitlab_ci_exporter_kube_watch_restarts_total", { resource });

describe("a watch that hangs past its timeout", () => {
  let env: KubeStack;
  beforeAll(async () => {
    const world = new KubeWorld();
    for (const name of ["spot-a", "spot-b"]) world.addNode(buildSpotNode({ name, createdAt: new Date(Date.now() - 3_600_000) }));
    world.addPod(jobPod(1, "spot-a"));
    world.addPod(jobPod(2, "spot-b"));
    env = await startKubeStack({ KUBE_WATCH_STALL_SECONDS: String(STALL_SECONDS) }, world);
  });
  afterAll(() => env?.close());

  it("is restarted by the watchdog, and the state converges", async () => {
    const { kubeWorld: world, kube } = env;
    const truth = () => world.pods().map((p) => p.metadata!.name!).sort();
    const before = await eventually(async () => {
      const samples = await env.stack.scrape();
      expect(shownPods(samples)).toEqual(truth());
      return samples;
    });
    const hungSince = Date.now();
    kube.faults.hangWatches();
    const watchesBefore = kube.requests.log.filter((r) => r.kind === "watch").length;

    // Changes the hung streams never carry.
    world.addPod(jobPod(3, "spot-a"));
    world.deletePod("gitlab-runner", world.pods().find((p) => p.metadata!.name!.endsWith("w2"))!.metadata!.name!);
    world.deleteNode("spot-b");

    const after = await eventually(
      async () => {
        const samples = await env.stack.scrape();
        expect(restarts(samples, "pods")).toBeGreaterThan(restarts(before, "pods"));
        expect(restarts(samples, "nodes")).toBeGreaterThan(restarts(before, "nodes"));
        expect(shownPods(samples)).toEqual(truth());
        expect(sum(samples, "gitlab_ci_spot_nodes")).toBe(1);
        return samples;
      },
      15_000,
      100,
    );
    expect(sum(after, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(1);

    // The hung streams outlived the server's timeout: the exporter, not the server, ended them,
    // once the stall limit had passed without a byte. Those opened before the fault had their last
    // bookmark up to one bookmark interval (200 ms) before it.
    const hung = await eventually(
      async () => {
        const records = kube.requests.log.filter((r) => r.kind === "watch").slice(watchesBefore - 2);
        expect(records.filter((r) => r.at > hungSince && r.ended?.by === "client").length).toBeGreaterThanOrEqual(2);
        return records;
      },
      10_000,
      100,
    );
    for (const record of hung.filter((r) => r.ended?.by === "client")) {
      const silentMs = record.ended!.at - Math.max(record.at, hungSince - 200);
      // (less the time a request takes to reach the server after the informer arms its watchdog)
      expect(silentMs).toBeGreaterThanOrEqual(STALL_SECONDS * 1000 - 150);
      if (record.at > hungSince) expect(record.ended!.at - record.at).toBeGreaterThan(Number(record.query.get("timeoutSeconds")) * 1000);
    }
    expect(hung.filter((r) => r.ended?.by === "timeout" && r.ended.at > hungSince + 100)).toEqual([]);

    // Once the proxy heals, watches carry changes again.
    kube.faults.resume();
    world.addPod(jobPod(4, "spot-a"));
    await eventually(async () => expect(shownPods(await env.stack.scrape())).toEqual(truth()), 10_000, 100);
  });
});
