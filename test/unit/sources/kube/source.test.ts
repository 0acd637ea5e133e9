import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../../src/config/load.js";
import type { NodeSnapshot, PodSnapshot } from "../../../../src/domain/pod.js";
import type { Rejections } from "../../../../src/lib/rejections.js";
import type { NodeSink, PodApplyOptions, PodSink } from "../../../../src/sources/kube/sinks.js";
import { KubernetesSource, type KubeSourceReports } from "../../../../src/sources/kube/source.js";
import { buildRunnerJobPod, buildSpotNode, KubeWorld, podRunning, startKubeSimulator, type KubeSimulator } from "../../../../src/simulator/kube/index.js";
import { eventually } from "../../../helpers/prom.js";

/** What reached the sinks and the reports, in order. */
class Recorder implements NodeSink, PodSink, KubeSourceReports {
  readonly calls: Array<{ call: string; names: string[]; namespace?: string | null; nowMs: number; observeEndedBuilds?: boolean }> = [];
  readonly reports: Array<{ call: string; resource: string; atMs?: number }> = [];
  readonly rejected: string[] = [];
  readonly rejections: Rejections = { reject: (source, reason) => void this.rejected.push(`${source}/${reason}`) };

  replaceAll(items: readonly NodeSnapshot[], nowMs: number): void {
    this.calls.push({ call: "nodes.replaceAll", names: items.map((n) => n.name), nowMs });
  }
  upsert(item: NodeSnapshot | PodSnapshot, at: number | PodApplyOptions): void {
    if (typeof at === "number") this.calls.push({ call: "nodes.upsert", names: [item.name], nowMs: at });
    else this.calls.push({ call: "pods.upsert", names: [item.name], nowMs: at.nowMs, observeEndedBuilds: at.observeEndedBuilds });
  }
  remove(item: NodeSnapshot | PodSnapshot, nowMs: number): void {
    this.calls.push({ call: "uid" in item && "phase" in item ? "pods.remove" : "nodes.remove", names: [item.name], nowMs });
  }
  replace(namespace: string | null, items: readonly PodSnapshot[], options: PodApplyOptions): void {
    this.calls.push({ call: "pods.replace", names: items.map((p) => p.name), namespace, nowMs: options.nowMs, observeEndedBuilds: options.observeEndedBuilds });
  }
  watchStarted(resource: string): void {
    this.reports.push({ call: "watchStarted", resource });
  }
  watchRestarted(resource: string): void {
    this.reports.push({ call: "watchRestarted", resource });
  }
  eventSeen(resource: string, atMs: number): void {
    this.reports.push({ call: "eventSeen", resource, atMs });
  }

  of(call: string) {
    return this.calls.filter((c) => c.call === call);
  }
  lastEventSeen(resource: string): number | undefined {
    return this.reports.filter((r) => r.call === "eventSeen" && r.resource === resource).at(-1)?.atMs;
  }
}

const running: Array<{ source: KubernetesSource; kube: KubeSimulator }> = [];
afterEach(async () => {
  for (const { source, kube } of running.splice(0)) {
    await source.stop();
    await kube.close();
  }
});

/** A source against a simulated API server; no bookmarks, so an informer hears only what the test does. */
async function startSource(world: KubeWorld, env: Record<string, string> = {}) {
  const kube = await startKubeSimulator({ world, bookmarkIntervalMs: 600_000 });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kube.kubeconfig());
  const config = loadConfig({
    GITLAB_URL: "https://gitlab.example.com",
    GITLAB_TOKEN: "glpat-secret-value",
    GITLAB_PROJECTS: "acme/api",
    KUBE_WATCH_STALL_SECONDS: "20",
    KUBE_RETRY_INITIAL_SECONDS: "0.01",
    KUBE_RETRY_MAX_SECONDS: "0.05",
    ...env,
  });
  const recorder = new Recorder();
  const source = new KubernetesSource(config.kube, { kubeConfig, nodes: recorder, pods: recorder, reports: recorder, log: pino({ level: "silent" }), rejections: recorder.rejections });
  running.push({ source, kube });
  return { source, kube, recorder };
}

function jobPod(jobId: number, namespace = "gitlab-runner") {
  return buildRunnerJobPod({ namespace, projectId: 7, projectPath: "acme/api", jobId, jobName: "build", ref: "main", nodeName: "spot-a", suffix: `p${jobId}` });
}

describe("KubernetesSource", () => {
  it("hands lists, changes and deletions of nodes and pods to the sinks", async () => {
    const world = new KubeWorld();
    world.addNode(buildSpotNode({ name: "spot-a" }));
    const first = world.addPod(jobPod(1));
    const { source, recorder } = await startSource(world);
    expect(source.synced).toBe(false);
    expect(source.lastSuccessMs).toBeNull();

    source.start();
    await eventually(() => expect(source.synced).toBe(true));
    expect(recorder.of("nodes.replaceAll").map((c) => c.names)).toEqual([["spot-a"]]);
    // The first list's builds ran before the exporter watched: no history.
    expect(recorder.of("pods.replace")).toEqual([expect.objectContaining({ names: [first.metadata!.name], namespace: null, observeEndedBuilds: false })]);
    expect(source.lastSuccessMs).not.toBeNull();

    world.updatePod("gitlab-runner", first.metadata!.name!, (pod) => podRunning(pod, new Date()));
    world.addNode(buildSpotNode({ name: "spot-b" }));
    world.deleteNode("spot-b");
    world.deletePod("gitlab-runner", first.metadata!.name!);
    await eventually(() => expect(recorder.of("pods.remove")).toHaveLength(1));
    await eventually(() => expect(recorder.of("nodes.remove")).toHaveLength(1));
    expect(recorder.of("pods.upsert")).toEqual([expect.objectContaining({ names: [first.metadata!.name], observeEndedBuilds: true })]);
    expect(recorder.of("nodes.upsert").map((c) => c.names)).toEqual([["spot-b"]]);
    expect(recorder.of("nodes.remove").map((c) => c.names)).toEqual([["spot-b"]]);
    expect(recorder.of("pods.remove").map((c) => c.names)).toEqual([[first.metadata!.name]]);
    expect(recorder.rejected).toEqual([]);
  });

  it("counts an object it cannot read as a rejection and hands it to no sink", async () => {
    const world = new KubeWorld();
    const { source, recorder } = await startSource(world, { KUBE_NODES_ENABLED: "false" });
    source.start();
    await eventually(() => expect(source.synced).toBe(true));
    const broken = jobPod(2);
    // A container without a name is no Pod the API server would serve.
    broken.spec!.containers = [{ name: 5 as unknown as string }];
    world.addPod(broken);
    await eventually(() => expect(recorder.rejected).toEqual(["kube_pods/schema"]));
    expect(recorder.of("pods.upsert")).toEqual([]);
  });

  it("watches the pods of each configured namespace apart, and nothing of the others", async () => {
    const world = new KubeWorld();
    const inA = world.addPod(jobPod(11, "team-a"));
    const inB = world.addPod(jobPod(12, "team-b"));
    world.addPod(jobPod(13, "elsewhere"));
    const { source, kube, recorder } = await startSource(world, { KUBE_NAMESPACES: "team-a,team-b", KUBE_NODES_ENABLED: "false" });
    source.start();
    await eventually(() => expect(source.synced).toBe(true));
    const lists = recorder.of("pods.replace");
    expect(lists.map((c) => [c.namespace, c.names]).sort()).toEqual([
      ["team-a", [inA.metadata!.name]],
      ["team-b", [inB.metadata!.name]],
    ]);
    world.addPod(jobPod(14, "elsewhere"));
    const later = world.addPod(jobPod(15, "team-b"));
    await eventually(() => expect(recorder.of("pods.upsert").map((c) => c.names)).toEqual([[later.metadata!.name]]));
    const paths = new Set(kube.requests.log.map((r) => r.path));
    expect(paths).toEqual(new Set(["/api/v1/namespaces/team-a/pods", "/api/v1/namespaces/team-b/pods"]));
  });

  it("reports the watches it starts and restarts", async () => {
    const world = new KubeWorld();
    const withNodes = await startSource(world);
    expect(withNodes.recorder.reports.filter((r) => r.call === "watchStarted").map((r) => r.resource)).toEqual(["nodes", "pods"]);
    const podsOnly = await startSource(world, { KUBE_NODES_ENABLED: "false", KUBE_NAMESPACES: "team-a,team-b" });
    expect(podsOnly.recorder.reports.filter((r) => r.call === "watchStarted").map((r) => r.resource)).toEqual(["pods"]);

    podsOnly.source.start();
    await eventually(() => expect(podsOnly.kube.requests.count((r) => r.kind === "watch")).toBe(2));
    podsOnly.kube.faults.endStreams({ path: "/api/v1/namespaces/team-a/pods" });
    await eventually(() => expect(podsOnly.recorder.reports.filter((r) => r.call === "watchRestarted")).toEqual([{ call: "watchRestarted", resource: "pods" }]));
    expect(podsOnly.recorder.of("pods.replace")).toHaveLength(2);
  });

  it("reports the oldest last event among the namespaces of a resource, so a silent namespace shows", async () => {
    const world = new KubeWorld();
    const { source, recorder } = await startSource(world, { KUBE_NAMESPACES: "team-a,team-b", KUBE_NODES_ENABLED: "false" });
    const beforeStart = Date.now();
    source.start();
    // Until it hears anything, an informer's silence counts from the start.
    expect(recorder.lastEventSeen("pods")).toBeGreaterThanOrEqual(beforeStart);
    await eventually(() => expect(source.synced).toBe(true));
    const listedA = recorder.of("pods.replace").find((c) => c.namespace === "team-a")!.nowMs;
    const listedB = recorder.of("pods.replace").find((c) => c.namespace === "team-b")!.nowMs;
    expect(recorder.lastEventSeen("pods")).toBe(Math.min(listedA, listedB));

    await new Promise((resolve) => setTimeout(resolve, 20));
    world.addPod(jobPod(21, "team-b"));
    await eventually(() => expect(recorder.of("pods.upsert")).toHaveLength(1));
    const heardB = recorder.of("pods.upsert")[0]!.nowMs;
    expect(heardB).toBeGreaterThan(listedA);
    expect(recorder.lastEventSeen("pods")).toBe(listedA);

    world.addPod(jobPod(22, "team-a"));
    await eventually(() => expect(recorder.of("pods.upsert")).toHaveLength(2));
    expect(recorder.lastEventSeen("pods")).toBe(heardB);
  });

  it("is stale after two stall periods and one longest retry without a sign of life", async () => {
    const { source } = await startSource(new KubeWorld(), { KUBE_WATCH_STALL_SECONDS: "30", KUBE_RETRY_MAX_SECONDS: "7" });
    expect(source.staleAfterMs).toBe(2 * 30_000 + 7_000);
  });
});
