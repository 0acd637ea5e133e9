import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRunnerJobPod, buildSpotNode, KubeWorld, podRunning } from "../../src/simulator/kube/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * KUBE_NAMESPACES: one pod informer per namespace, against the simulated API over HTTP. Pods of
 * the watched namespaces are shown, others never; and one namespace whose watch dies (its Role
 * gone: 403) shows as stale, not hidden behind the other namespace's fresh watch.
 */
const STALL_SECONDS = 1;
const RETRY_MAX_SECONDS = 0.5;

function jobPod(namespace: string, jobId: number): V1Pod {
  const pod = buildRunnerJobPod({ namespace, projectId: 5, projectPath: `acme/${namespace}`, jobId, jobName: "test", ref: "main", nodeName: "spot-a", suffix: `n${jobId}` });
  podRunning(pod, new Date());
  return pod;
}

const shown = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_job_pod_info")
    .map((s) => `${s.labels.namespace}/${s.labels.pod}`)
    .sort();
const lastEvent = (samples: Sample[], resource: string) => sum(samples, "gitlab_ci_exporter_kube_last_event_timestamp_seconds", { resource });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function kubeHealth(env: KubeStack): Promise<{ status: number; stale: boolean }> {
  const response = await fetch(`${env.stack.exporter.url}/readyz`);
  const body = (await response.json()) as { sources: Array<{ name: string; stale: boolean }> };
  return { status: response.status, stale: body.sources.find((s) => s.name === "kubernetes")!.stale };
}

describe("pods watched per namespace", () => {
  let env: KubeStack;
  const world = new KubeWorld();
  beforeAll(async () => {
    world.addNode(buildSpotNode({ name: "spot-a", createdAt: new Date(Date.now() - 3_600_000) }));
    for (const [namespace, id] of [["team-a", 1], ["team-b", 2], ["team-c", 3]] as const) world.addPod(jobPod(namespace, id));
    env = await startKubeStack({ KUBE_NAMESPACES: "team-a,team-b", KUBE_WATCH_STALL_SECONDS: String(STALL_SECONDS), KUBE_RETRY_MAX_SECONDS: String(RETRY_MAX_SECONDS) }, world);
  });
  afterAll(() => env?.close());

  const truth = () =>
    world
      .pods()
      .filter((p) => ["team-a", "team-b"].includes(p.metadata!.namespace!))
      .map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`)
      .sort();

  it("shows the pods of the watched namespaces only, each through its own namespaced list and watch", async () => {
    await eventually(async () => expect(shown(await env.stack.scrape())).toEqual(truth()));
    expect(truth()).toHaveLength(2);
    const podRequests = env.kube.requests.log.filter((r) => r.path.endsWith("/pods"));
    expect([...new Set(podRequests.map((r) => `${r.kind} ${r.path}`))].sort()).toEqual([
      "list /api/v1/namespaces/team-a/pods",
      "list /api/v1/namespaces/team-b/pods",
      "watch /api/v1/namespaces/team-a/pods",
      "watch /api/v1/namespaces/team-b/pods",
    ]);

    world.addPod(jobPod("team-a", 4));
    world.addPod(jobPod("team-c", 5));
    world.deletePod("team-b", world.pods().find((p) => p.metadata!.namespace === "team-b")!.metadata!.name!);
    await eventually(async () => expect(shown(await env.stack.scrape())).toEqual(truth()));
    await sleep(300);
    const samples = await env.stack.scrape();
    expect(shown(samples)).toEqual(truth());
    expect(shown(samples).some((pod) => pod.startsWith("team-c/"))).toBe(false);
  });

  it("shows a namespace whose watch died as stale, whatever the other namespace's watch says", async () => {
    const { kube } = env;
    await eventually(async () => expect((await kubeHealth(env)).stale).toBe(false));
    const before = await env.stack.scrape();
    // team-b's Role is gone: its list and watch are forbidden from now on.
    kube.faults.forbid("/api/v1/namespaces/team-b/");
    kube.faults.dropStreams({ path: "/api/v1/namespaces/team-b/" });
    await eventually(async () => expect(sum(await env.stack.scrape(), "gitlab_ci_exporter_kube_watch_restarts_total", { resource: "pods" })).toBeGreaterThan(sum(before, "gitlab_ci_exporter_kube_watch_restarts_total", { resource: "pods" })));

    // team-a's watch stays healthy: its changes still arrive, and its bookmarks keep coming.
    world.addPod(jobPod("team-a", 6));
    await eventually(async () => expect(shown(await env.stack.scrape())).toContain(`team-a/${world.pods().find((p) => p.metadata!.name!.endsWith("n6"))!.metadata!.name}`));
    const frozen = lastEvent(await env.stack.scrape(), "pods");
    await sleep(1000);
    const later = await env.stack.scrape();
    expect(lastEvent(later, "pods")).toBe(frozen);
    expect(lastEvent(later, "nodes")).toBeGreaterThan(frozen);
    expect(Date.now() / 1000 - frozen).toBeGreaterThan(0.9);
    await eventually(async () => expect(await kubeHealth(env)).toEqual({ status: 200, stale: true }), 10_000, 100);

    kube.faults.clear();
    await eventually(async () => expect(lastEvent(await env.stack.scrape(), "pods")).toBeGreaterThan(frozen), 10_000, 100);
    await eventually(async () => expect((await kubeHealth(env)).stale).toBe(false), 10_000, 100);
    expect(shown(await env.stack.scrape())).toEqual(truth());
  });
});
