import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/simulator/gitlab/index.js";
import { buildOnDemandNode, buildSpotNode, ClusterCapacity, KubeWorld, ManualTimeline, nodePool } from "../../src/simulator/kube/index.js";
import { exportedView, truthView } from "../helpers/kube-truth.js";
import { eventually, sum } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/**
 * Why job pods wait and how long they take to start, against the simulated cluster over
 * client-node: the scheduler, the autoscaler and the registry of `ClusterCapacity` move pods
 * through every waiting reason, onto warm nodes and onto nodes launched for them, and through a
 * watch outage. After every step the exporter's gauges and histograms equal what the simulator
 * did. Simulated time starts an hour ago and moves by hand, so minutes pass in an instant.
 */
const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
const timeline = new ManualTimeline(clock);
const world = new KubeWorld({ now: clock.now });
const longAgo = new Date(clock.now() - 3 * 3_600_000);
for (const name of ["spot-warm-1", "spot-warm-2"]) world.addNode(buildSpotNode({ name, nodegroup: "ci-spot", createdAt: longAgo }));
world.addNode(buildOnDemandNode({ name: "ondemand-warm-1", nodegroup: "ci-ondemand", createdAt: longAgo }));
const capacity = new ClusterCapacity({
  kube: world,
  timeline,
  timing: { scheduleMs: 1000, provisionMs: 45_000, nodeReadyMs: 30_000, warmStartMs: 3000, coldPullMs: 25_000, pullRetryMs: 10_000 },
  pools: [
    nodePool({ name: "ci-spot", capacityType: "spot", podsPerNode: 2 }),
    nodePool({ name: "ci-ondemand", capacityType: "on_demand", podsPerNode: 2 }),
    nodePool({ name: "ci-burst", capacityType: "spot", podsPerNode: 4, provider: "karpenter" }),
  ],
});

let jobId = 5000;
function launch(project: string, pool: string, options: { configError?: boolean } = {}): string {
  jobId++;
  return capacity.launch({ projectId: 40, projectPath: project, jobId, jobName: "test", ref: "main", suffix: `j${jobId}` }, { pool, ...options });
}

describe("job pods waiting and starting, against the simulated cluster", () => {
  let env: KubeStack;
  beforeAll(async () => {
    env = await startKubeStack({}, world);
  });
  afterAll(async () => {
    capacity.dispose();
    await env?.close();
  });

  /** Waits until the pod watch is open, so that dropping it makes the exporter list again. */
  const podsWatched = () => eventually(() => expect(env.kube.requests.log.some((r) => r.kind === "watch" && r.path === "/api/v1/pods" && r.status === 200 && !r.ended)).toBe(true));

  /** Waits until what the exporter exports equals the simulator's truth now. */
  const converged = () => eventually(async () => expect(exportedView(await env.stack.scrape())).toEqual(truthView(capacity.waiting(), capacity.startups)), 10_000, 50);

  it("counts pods by waiting reason, and observes warm and cold starts once, across a watch outage", async () => {
    // The scheduler is behind: six pods without a verdict.
    capacity.pauseScheduler();
    const spot = Array.from({ length: 6 }, (_, i) => launch(i < 4 ? "acme/api" : "acme/web", "ci-spot"));
    await converged();
    expect(capacity.waiting().map((w) => w.reason)).toEqual(Array(6).fill("scheduling"));

    // Four land on the warm nodes; two do not fit, and a node is launched for them.
    capacity.resumeScheduler();
    timeline.advance(1000);
    await converged();
    expect(exportedView(await env.stack.scrape()).waiting).toMatchObject({ "acme/api|container_creating": 4, "acme/web|unschedulable": 2 });

    // The warm ones start; the registry starts failing.
    timeline.advance(3000);
    capacity.failPulls();
    await converged();
    expect(capacity.startups).toHaveLength(4);

    // The new node comes and takes the two; their cold pull fails. A pod with a missing secret waits too.
    const broken = launch("acme/web", "ci-ondemand", { configError: true });
    timeline.advance(45_000 + 30_000);
    await converged();
    timeline.advance(10_000);
    await converged();
    expect(exportedView(await env.stack.scrape()).waiting).toEqual({ "acme/web|image_pull": 2, "acme/web|other": 1 });

    // The watches go down. Meanwhile the registry heals, the two start on the new node, the
    // secret is fixed, two warm jobs end and two more pods start on their slots.
    const { kube } = env;
    const restarts = async () => sum(await env.stack.scrape(), "gitlab_ci_exporter_kube_watch_restarts_total", { resource: "pods" });
    const before = await restarts();
    await podsWatched();
    kube.faults.failLists({ status: 503 });
    kube.faults.httpGoneOnWatch();
    kube.faults.dropStreams();
    await eventually(async () => expect(await restarts()).toBeGreaterThan(before));
    capacity.healRegistry();
    timeline.advance(10_000 + 25_000);
    capacity.fixConfig("gitlab-runner", broken);
    capacity.finish("gitlab-runner", spot[0]!);
    capacity.finish("gitlab-runner", spot[1]!);
    launch("acme/api", "ci-spot");
    launch("acme/api", "ci-spot");
    timeline.advance(1000 + 3000);
    expect(capacity.waiting()).toEqual([]);
    expect(capacity.startups).toHaveLength(4 + 2 + 1 + 2);
    kube.faults.clear();
    await converged();

    // More re-lists with nothing new: nothing observed again.
    for (let i = 0; i < 2; i++) {
      const lists = () => kube.requests.count((r) => r.kind === "list" && r.path === "/api/v1/pods" && r.status === 200);
      const listed = lists();
      await podsWatched();
      kube.faults.dropStreams();
      await eventually(() => expect(lists()).toBeGreaterThan(listed));
      await converged();
    }
    const view = exportedView(await env.stack.scrape());
    // Bound when the node was Ready 75 s after they were created; a failed pull, its retry 10 s
    // later, 25 s more once the registry healed: 120 s each.
    expect(view.startup["ci-spot|spot|true"]).toEqual({ count: 2, sum: 240, buckets: [0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2] });
    expect(view.scheduling["ci-spot|spot|true"]).toMatchObject({ count: 2, sum: 150 });
    expect(view.startup["ci-ondemand|on_demand|false"]?.count).toBe(1);
  });

  it("shows pods waiting for a withheld pool as unschedulable since the oldest's creation, until the capacity comes", async () => {
    capacity.withhold("ci-burst");
    const first = clock.now();
    launch("acme/api", "ci-burst");
    timeline.advance(5 * 60_000);
    launch("acme/web", "ci-burst");
    timeline.advance(60_000);
    await converged();
    const view = exportedView(await env.stack.scrape());
    expect(view.waiting).toEqual({ "acme/api|unschedulable": 1, "acme/web|unschedulable": 1 });
    expect(view.oldest).toEqual({ unschedulable: first / 1000 });
    capacity.restore("ci-burst");
    timeline.advance(45_000 + 30_000 + 25_000);
    await converged();
    expect(exportedView(await env.stack.scrape()).startup["ci-burst|spot|true"]).toMatchObject({ count: 2 });
  });

  it("after an exporter restart, counts what waits at once and observes only the starts that follow", async () => {
    capacity.pauseScheduler();
    // Both fit on nodes that are there: the burst node has room, so has the on-demand one.
    launch("acme/api", "ci-burst");
    launch("acme/web", "ci-ondemand");
    timeline.advance(60_000);
    await converged();
    await env.stack.restartExporter();
    const since = capacity.startups.length;
    const convergedSinceRestart = () =>
      eventually(async () => expect(exportedView(await env.stack.scrape())).toEqual(truthView(capacity.waiting(), capacity.startups.slice(since))), 10_000, 50);
    await convergedSinceRestart();
    expect(exportedView(await env.stack.scrape()).waiting).toEqual({ "acme/api|scheduling": 1, "acme/web|scheduling": 1 });
    capacity.resumeScheduler();
    timeline.advance(3000);
    await convergedSinceRestart();
    expect(Object.values(exportedView(await env.stack.scrape()).startup).reduce((n, h) => n + h.count, 0)).toBe(2);
  });
});
