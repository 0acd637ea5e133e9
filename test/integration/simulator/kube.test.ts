import { CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { KubeWorld, buildRunnerJobPod, buildSpotNode, startKubeSimulator, type KubeSimulator } from "../../../src/simulator/kube/index.js";

let sim: KubeSimulator | undefined;
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await sim?.close();
});

async function connect(world: KubeWorld) {
  sim = await startKubeSimulator({ world, bookmarkIntervalMs: 100 });
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  return { kc, api: kc.makeApiClient(CoreV1Api) };
}

function collect(kc: KubeConfig, path: string, query: Record<string, string | number | boolean | undefined>) {
  const events: Array<{ type: string; object: { metadata?: { name?: string; resourceVersion?: string }; code?: number } }> = [];
  let ended: unknown = "open";
  const started = new Watch(kc).watch(path, query, (type, object) => events.push({ type, object }), (error) => (ended = error ?? null));
  void started.then((controller) => aborts.push(controller));
  return { events, ended: () => ended, started };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe("simulated Kubernetes API", () => {
  it("lists with a resourceVersion and in chunks with limit and continue", async () => {
    const world = new KubeWorld();
    for (let i = 0; i < 5; i++) world.addNode(buildSpotNode({ name: `node-${i}` }));
    const { api } = await connect(world);
    const all = await api.listNode();
    expect(all.items).toHaveLength(5);
    expect(all.metadata?.resourceVersion).toBe(String(world.currentResourceVersion()));
    const first = await api.listNode({ limit: 2 });
    expect(first.items).toHaveLength(2);
    const second = await api.listNode({ limit: 2, _continue: first.metadata!._continue! });
    expect(second.items.map((n) => n.metadata?.name)).toEqual(["node-2", "node-3"]);
  });

  it("streams ADDED, MODIFIED and DELETED after the given version, and bookmarks when asked", async () => {
    const world = new KubeWorld();
    const { kc } = await connect(world);
    const watch = collect(kc, "/api/v1/namespaces/gitlab-runner/pods", { resourceVersion: String(world.currentResourceVersion()), allowWatchBookmarks: true });
    await watch.started;
    const pod = world.addPod(buildRunnerJobPod({ projectId: 42, projectPath: "acme/api", jobId: 7, jobName: "build", ref: "main" }));
    world.updatePod("gitlab-runner", pod.metadata!.name!, (p) => (p.spec!.nodeName = "node-1"));
    world.deletePod("gitlab-runner", pod.metadata!.name!);
    world.addPod({ ...buildRunnerJobPod({ projectId: 1, projectPath: "a/b", jobId: 8, jobName: "x", ref: "main" }), metadata: { name: "elsewhere", namespace: "other" } });
    await settle();
    const types = watch.events.map((e) => e.type).filter((t) => t !== "BOOKMARK");
    expect(types).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect(watch.events.some((e) => e.type === "BOOKMARK")).toBe(true);
  });

  it("sends bookmarks of the watched kind", async () => {
    const world = new KubeWorld();
    const { kc } = await connect(world);
    const nodes = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()), allowWatchBookmarks: true });
    const pods = collect(kc, "/api/v1/pods", { resourceVersion: String(world.currentResourceVersion()), allowWatchBookmarks: true });
    await Promise.all([nodes.started, pods.started]);
    await settle();
    const kinds = (events: typeof nodes.events) => [...new Set(events.filter((e) => e.type === "BOOKMARK").map((e) => (e.object as { kind?: string }).kind))];
    expect(kinds(nodes.events)).toEqual(["Node"]);
    expect(kinds(pods.events)).toEqual(["Pod"]);
  });

  it("answers an expired version with the 410 ERROR event inside a 200 stream, then ends it", async () => {
    const world = new KubeWorld({ historySize: 2 });
    for (let i = 0; i < 5; i++) world.addNode(buildSpotNode({ name: `n-${i}` }));
    const { kc } = await connect(world);
    const watch = collect(kc, "/api/v1/nodes", { resourceVersion: "1001" });
    await settle();
    expect(watch.events).toEqual([{ type: "ERROR", object: expect.objectContaining({ kind: "Status", code: 410, reason: "Expired" }) }]);
    expect(watch.ended()).not.toBe("open");
  });

  it("drops streams, fails lists and stalls watches on demand", async () => {
    const world = new KubeWorld();
    const { kc, api } = await connect(world);
    const watch = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()) });
    await watch.started;
    sim!.faults.dropStreams();
    await settle();
    expect(watch.ended()).not.toBe("open");

    sim!.faults.failLists({ status: 500, count: 1 });
    await expect(api.listNode()).rejects.toThrow();
    await expect(api.listNode()).resolves.toBeDefined();

    const stalled = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()) });
    await stalled.started;
    sim!.faults.stallWatches();
    world.addNode(buildSpotNode({ name: "late" }));
    await settle();
    expect(stalled.events).toEqual([]);
    sim!.faults.resume();
    await settle();
    expect(stalled.events.map((e) => e.object.metadata?.name)).toEqual(["late"]);
  });

  it("drops connections as an error, ends streams cleanly before their timeout, and records who ended each", async () => {
    const world = new KubeWorld();
    const { kc } = await connect(world);
    const from = { resourceVersion: String(world.currentResourceVersion()), timeoutSeconds: 30 };
    const dropped = collect(kc, "/api/v1/nodes", from);
    const ended = collect(kc, "/api/v1/namespaces/a/pods", from);
    const other = collect(kc, "/api/v1/namespaces/b/pods", from);
    await Promise.all([dropped.started, ended.started, other.started]);
    sim!.faults.dropStreams({ path: "/api/v1/nodes" });
    sim!.faults.endStreams({ path: "/api/v1/namespaces/a/" });
    await settle();
    expect(dropped.ended()).toBeInstanceOf(Error);
    expect(ended.ended()).toBeNull();
    expect(other.ended()).toBe("open");
    const endings = sim!.requests.log.filter((r) => r.kind === "watch").map((r) => [r.path, r.ended?.by]);
    expect(endings).toEqual([
      ["/api/v1/nodes", "dropped"],
      ["/api/v1/namespaces/a/pods", "server"],
      ["/api/v1/namespaces/b/pods", undefined],
    ]);
  });

  it("keeps hung streams open and silent past their timeout until the client gives up", async () => {
    const world = new KubeWorld();
    const { kc } = await connect(world);
    sim!.faults.hangWatches();
    const hung = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()), timeoutSeconds: 1, allowWatchBookmarks: true });
    const controller = await hung.started;
    world.addNode(buildSpotNode({ name: "unseen" }));
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(hung.ended()).toBe("open");
    expect(hung.events).toEqual([]);
    controller.abort();
    await settle();
    expect(sim!.requests.log.find((r) => r.kind === "watch")!.ended?.by).toBe("client");
    // A stalled stream, by contrast, still ends at its timeout.
    sim!.faults.resume();
    sim!.faults.stallWatches();
    const stalled = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()), timeoutSeconds: 1 });
    await stalled.started;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(stalled.ended()).toBeNull();
    expect(sim!.requests.log.filter((r) => r.kind === "watch").at(-1)!.ended?.by).toBe("timeout");
  });

  it("forbids lists and watches of a path until cleared", async () => {
    const world = new KubeWorld();
    const { api, kc } = await connect(world);
    sim!.faults.forbid("/api/v1/namespaces/locked/");
    await expect(api.listNamespacedPod({ namespace: "locked" })).rejects.toMatchObject({ code: 403 });
    await expect(api.listNamespacedPod({ namespace: "open" })).resolves.toBeDefined();
    const watch = collect(kc, "/api/v1/namespaces/locked/pods", {});
    await watch.started;
    await settle();
    expect(watch.ended()).toMatchObject({ statusCode: 403 });
    sim!.faults.clear();
    await expect(api.listNamespacedPod({ namespace: "locked" })).resolves.toBeDefined();
  });

  it("answers a watch from before an API server restart with 410 Expired: the revision moved on, the history is gone", async () => {
    const world = new KubeWorld();
    world.addNode(buildSpotNode({ name: "n" }));
    const before = world.currentResourceVersion();
    world.restart();
    expect(world.currentResourceVersion()).toBeGreaterThan(before);
    expect(world.node("n")!.metadata!.resourceVersion).toBe(String(before));
    const { kc } = await connect(world);
    const resumed = collect(kc, "/api/v1/nodes", { resourceVersion: String(before), allowWatchBookmarks: true });
    await settle();
    expect(resumed.events).toEqual([{ type: "ERROR", object: expect.objectContaining({ code: 410, reason: "Expired" }) }]);
    expect(resumed.ended()).toBeNull();
    expect(sim!.faults.servedOf("410 Expired")).toBe(1);
  });

  it("keeps a watch from a version ahead of the server's (etcd restored from a snapshot) open and silent until the revision passes it", async () => {
    const world = new KubeWorld();
    for (let i = 0; i < 3; i++) world.addNode(buildSpotNode({ name: `n-${i}` }));
    const handedOut = world.currentResourceVersion();
    world.restoreEtcd();
    expect(world.currentResourceVersion()).toBe(1000);
    expect(world.nodes().map((n) => Number(n.metadata!.resourceVersion))).toEqual([998, 999, 1000]);
    const { kc, api } = await connect(world);
    const ahead = collect(kc, "/api/v1/nodes", { resourceVersion: String(handedOut), allowWatchBookmarks: true, timeoutSeconds: 30 });
    const current = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()), allowWatchBookmarks: true, timeoutSeconds: 30 });
    await Promise.all([ahead.started, current.started]);
    world.addNode(buildSpotNode({ name: "after-restore" }));
    await settle();
    // No event at or below the version asked for, and no bookmark either.
    expect(ahead.events).toEqual([]);
    expect(ahead.ended()).toBe("open");
    expect(current.events.filter((e) => e.type !== "BOOKMARK").map((e) => e.object.metadata?.name)).toEqual(["after-restore"]);
    expect(current.events.some((e) => e.type === "BOOKMARK")).toBe(true);
    // Writes that pass the version reach it, bookmarks follow.
    for (const name of ["w-1", "w-2", "w-3"]) world.addNode(buildSpotNode({ name }));
    await settle();
    expect(ahead.events.filter((e) => e.type !== "BOOKMARK").map((e) => [e.object.metadata?.name, e.object.metadata?.resourceVersion])).toEqual([["w-3", String(handedOut + 1)]]);
    expect(ahead.events.some((e) => e.type === "BOOKMARK")).toBe(true);
    expect(sim!.faults.servedOf("version ahead")).toBe(1);
    await expect(api.listNode()).resolves.toBeDefined();
  });

  it("answers a list from a version ahead of the server's with 504 Too large resource version", async () => {
    const world = new KubeWorld();
    world.addNode(buildSpotNode({ name: "n" }));
    const { api } = await connect(world);
    const current = world.currentResourceVersion();
    await expect(api.listNode({ resourceVersion: String(current) })).resolves.toMatchObject({ items: [expect.anything()] });
    const refused = await api.listNode({ resourceVersion: String(current + 5) }).then(
      () => null,
      (error: { code?: number; body?: string; headers?: Record<string, string> }) => error,
    );
    expect(refused?.code).toBe(504);
    expect(refused?.headers?.["retry-after"]).toBe("1");
    expect(JSON.parse(refused!.body!)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `Timeout: Too large resource version: ${current + 5}, current: ${current}`,
      reason: "Timeout",
      details: { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }], retryAfterSeconds: 1 },
      code: 504,
    });
    expect(sim!.faults.servedOf("504 Too large resource version")).toBe(1);
  });

  it("refuses a watch from a version ahead with the 504 ERROR event when told to, as for a watch asking for its initial events", async () => {
    const world = new KubeWorld();
    world.addNode(buildSpotNode({ name: "n" }));
    const { kc } = await connect(world);
    sim!.faults.tooLargeOnWatchAhead();
    const held = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion()) });
    const ahead = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion() + 1) });
    await settle();
    expect(ahead.events).toEqual([
      { type: "ERROR", object: expect.objectContaining({ code: 504, reason: "Timeout", details: expect.objectContaining({ causes: [expect.objectContaining({ reason: "ResourceVersionTooLarge" })] }) }) },
    ]);
    expect(ahead.ended()).toBeNull();
    expect(held.ended()).toBe("open");
    sim!.faults.clear();
    const later = collect(kc, "/api/v1/nodes", { resourceVersion: String(world.currentResourceVersion() + 1) });
    await settle();
    expect(later.ended()).toBe("open");
    expect(sim!.faults.servedOf("504 Too large resource version")).toBe(1);
    expect(sim!.faults.servedOf("version ahead")).toBe(1);
  });

  it("expires the next watch of a path once, whatever version it asks for", async () => {
    const world = new KubeWorld();
    const { kc } = await connect(world);
    sim!.faults.expireNextWatch({ path: "/api/v1/pods" });
    const from = { resourceVersion: String(world.currentResourceVersion()) };
    const nodes = collect(kc, "/api/v1/nodes", from);
    const pods = collect(kc, "/api/v1/pods", from);
    await settle();
    const again = collect(kc, "/api/v1/pods", from);
    await settle();
    expect(nodes.ended()).toBe("open");
    expect(pods.events).toEqual([{ type: "ERROR", object: expect.objectContaining({ code: 410, reason: "Expired" }) }]);
    expect(again.ended()).toBe("open");
    expect(sim!.faults.servedOf("410 Expired")).toBe(1);
  });

  it("counts what it served by kind: each stream cut or stalled, each refused request", async () => {
    const world = new KubeWorld();
    const { kc, api } = await connect(world);
    const from = { resourceVersion: String(world.currentResourceVersion()), allowWatchBookmarks: true };
    const streams = [collect(kc, "/api/v1/nodes", from), collect(kc, "/api/v1/pods", from)];
    await Promise.all(streams.map((s) => s.started));
    sim!.faults.stallWatches();
    await settle();
    sim!.faults.endStreams();
    sim!.faults.dropStreams();
    sim!.faults.failLists({ status: 503, count: 2 });
    sim!.faults.failWatches({ status: 503 });
    await expect(api.listNode()).rejects.toThrow();
    await expect(api.listNode()).rejects.toThrow();
    const refused = collect(kc, "/api/v1/nodes", from);
    await settle();
    expect(refused.ended()).toMatchObject({ statusCode: 503 });
    expect(Object.fromEntries(sim!.faults.servedByKind())).toEqual({ "stream stalled": 2, "stream ended early": 2, "list failed": 2, "watch refused": 1 });
    expect(sim!.faults.served).toBe(7);
  });
});
