import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildKubernetesJobPod, buildRunnerJobPod, buildSpotNode, KubeWorld, podRunning, podTerminated } from "../../src/simulator/kube/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * Build durations across watch restarts: a re-list hands over every pod again, finished builds
 * included. Each build must be observed exactly once: the ones that ended while the watches were
 * down when the re-list finds them, none of the ones already observed, and none that ended before
 * the exporter started.
 */
const KANIKO = "gcr.io/kaniko-project/executor:v1.23.2-debug";
const started = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
const at = (seconds: number) => new Date(started.getTime() + seconds * 1000);

function kanikoJobPod(jobId: number): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 8, projectPath: "acme/images", jobId, jobName: "image", ref: "main", nodeName: "spot-a", buildImage: KANIKO, suffix: `b${jobId}` });
  podRunning(pod, started);
  return pod;
}

/** The builds observed, as `builder project result count sum`. */
const builds = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_image_build_duration_seconds_count")
    .map((s) => `${s.labels.builder} ${s.labels.project || "-"} ${s.labels.result} ${s.value} ${sum(samples, "gitlab_ci_image_build_duration_seconds_sum", s.labels)}`)
    .sort();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("image builds across re-lists and restarts", () => {
  let env: KubeStack;
  const world = new KubeWorld();
  beforeAll(async () => {
    world.addNode(buildSpotNode({ name: "spot-a", createdAt: started }));
    env = await startKubeStack({}, world);
  });
  afterAll(() => env?.close());

  const finishBuild = (namespace: string, name: string, seconds: number, exitCode: number, containers?: string[]) =>
    world.updatePod(namespace, name, (pod) => podTerminated(pod, { finishedAt: at(seconds), exitCode, ...(containers ? { containers } : {}) }));

  it("observes each build once, whether seen live or found by a re-list", async () => {
    const { kube } = env;
    const ci = world.addPod(kanikoJobPod(1)).metadata!.name!;
    const plain = buildKubernetesJobPod({ namespace: "builds", jobName: "base-image", image: "ghcr.io/osscontainertools/kaniko:v1.25.0", nodeName: "spot-a" });
    podRunning(plain, started);
    const plainName = world.addPod(plain).metadata!.name!;
    await eventually(async () => expect(sum(await env.stack.scrape(), "gitlab_ci_job_pod_info")).toBe(1));

    // Seen live.
    finishBuild("gitlab-runner", ci, 95, 0, ["build"]);
    await eventually(async () => expect(builds(await env.stack.scrape())).toEqual(["kaniko acme/images success 1 95"]));

    // The watches go down and lists fail: builds end unseen.
    kube.faults.failLists({ status: 503 });
    kube.faults.httpGoneOnWatch();
    kube.faults.dropStreams();
    await eventually(async () => expect(sum(await env.stack.scrape(), "gitlab_ci_exporter_kube_watch_restarts_total", { resource: "pods" })).toBeGreaterThan(0));
    finishBuild("builds", plainName, 312, 1);
    const late = world.addPod(kanikoJobPod(2)).metadata!.name!;
    finishBuild("gitlab-runner", late, 47, 1, ["build"]);

    kube.faults.clear();
    const expected = ["kaniko - failure 1 312", "kaniko acme/images failure 1 47", "kaniko acme/images success 1 95"];
    await eventually(async () => expect(builds(await env.stack.scrape())).toEqual(expected), 10_000, 100);

    // More re-lists, with nothing new: nothing is observed again.
    for (let i = 0; i < 2; i++) {
      const podLists = () => kube.requests.count((r) => r.kind === "list" && r.path === "/api/v1/pods" && r.status === 200);
      const listsBefore = podLists();
      // Only an open watch can be dropped: right after a list, the next watch may not be open yet.
      await eventually(() => expect(kube.requests.log.some((r) => r.kind === "watch" && r.path === "/api/v1/pods" && r.status === 200 && !r.ended)).toBe(true));
      kube.faults.dropStreams();
      await eventually(() => expect(podLists()).toBeGreaterThan(listsBefore), 10_000, 50);
      await sleep(300);
      expect(builds(await env.stack.scrape())).toEqual(expected);
    }
    // Later changes to the finished pods observe nothing either.
    world.updatePod("gitlab-runner", ci, (pod) => {
      pod.metadata!.labels = { ...pod.metadata!.labels, touched: "yes" };
    });
    await sleep(300);
    expect(builds(await env.stack.scrape())).toEqual(expected);
  });

  it("does not replay builds that ended before the exporter started", async () => {
    await env.stack.restartExporter();
    await eventually(async () => expect(sum(await env.stack.scrape(), "gitlab_ci_job_pod_info")).toBe(2));
    await sleep(300);
    expect(builds(await env.stack.scrape())).toEqual([]);
    const next = world.addPod(kanikoJobPod(3)).metadata!.name!;
    finishBuild("gitlab-runner", next, 61, 0, ["build"]);
    await eventually(async () => expect(builds(await env.stack.scrape())).toEqual(["kaniko acme/images success 1 61"]));
  });
});
