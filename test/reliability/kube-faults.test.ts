import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { buildRunnerJobPod, buildSpotNode, KubeWorld, NODE_TAINTS, podRunning, taintNode, type KubeFaults, type ServedFault } from "../../src/simulator/kube/index.js";
import { eventually, sum, type Sample } from "../helpers/prom.js";
import { startKubeStack, type KubeStack } from "../helpers/kube-stack.js";

/** What the simulator served in each scenario, by kind. */
const servedIn = new Map<string, ReadonlyMap<ServedFault, number>>();
afterAll(() => {
  const total = [...servedIn.values()].reduce((all, kinds) => all + [...kinds.values()].reduce((a, b) => a + b, 0), 0);
  const lines = [...servedIn].map(([name, kinds]) => `  ${name}: ${[...kinds].map(([kind, count]) => `${kind} ×${count}`).join(", ")}`);
  console.log(`Kubernetes fault injection: ${servedIn.size} scenarios, ${total} faulty answers served\n${lines.join("\n")}`);
});

/**
 * Thresholds shortened so that an outage outlasts the stale threshold within seconds: the source
 * is stale after 2 × KUBE_WATCH_STALL_SECONDS + KUBE_RETRY_MAX_SECONDS without a sign of life.
 */
const STALL_SECONDS = 1;
const RETRY_MAX_SECONDS = 0.5;
const STALE_AFTER_MS = (2 * STALL_SECONDS + RETRY_MAX_SECONDS) * 1000;
const FAST = { KUBE_INTERRUPTION_SETTLE_SECONDS: "0.2", KUBE_WATCH_STALL_SECONDS: String(STALL_SECONDS), KUBE_RETRY_MAX_SECONDS: String(RETRY_MAX_SECONDS) };

const CREATED = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * 3_600_000);
/** The exporter's watch paths (pods of all namespaces), for faults aimed at one watch each. */
const WATCHES = ["/api/v1/pods", "/api/v1/nodes"];

function jobPod(jobId: number, node: string): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 1, projectPath: "acme/api", jobId, jobName: `job-${jobId}`, ref: "main", nodeName: node, suffix: `j${jobId}` });
  podRunning(pod, new Date());
  return pod;
}

function cluster(): KubeWorld {
  const world = new KubeWorld();
  for (const name of ["spot-a", "spot-b", "spot-c"]) world.addNode(buildSpotNode({ name, nodegroup: "ci-spot", createdAt: CREATED }));
  // spot-b has had its interruption notice: its pods are known victims whenever they go.
  world.updateNode("spot-b", (node) => taintNode(node, NODE_TAINTS.spotInterruption));
  for (const [id, node] of [[1, "spot-a"], [2, "spot-a"], [3, "spot-b"], [4, "spot-b"], [6, "spot-c"]] as const) world.addPod(jobPod(id, node));
  return world;
}

/** The cluster a scenario changes, remembering when each spot node was reclaimed. */
class Cluster {
  readonly reclaimedAtMs = new Map<string, number>();
  constructor(readonly world: KubeWorld) {}

  /** The node goes away with its job pods (reclaimed: node first, pods collected after). */
  reclaim(name: string): void {
    this.reclaimedAtMs.set(name, Date.now());
    this.world.deleteNode(name);
    for (const pod of this.world.pods().filter((p) => p.spec!.nodeName === name)) this.world.deletePod("gitlab-runner", pod.metadata!.name!);
  }
}

/** What changes while the API server is away: spot-c is reclaimed with its pod, spot-d joins with a new one. */
function changeWhileAway(cluster: Cluster): void {
  cluster.reclaim("spot-c");
  cluster.world.addNode(buildSpotNode({ name: "spot-d", nodegroup: "ci-spot", createdAt: new Date() }));
  cluster.world.addPod(jobPod(7, "spot-d"));
}

/** What the exporter shows of the cluster, and what the cluster holds. */
const shownPods = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_job_pod_info")
    .map((s) => `${s.labels.pod} ${s.labels.node} ${s.labels.ref}`)
    .sort();
const truePods = (world: KubeWorld) => world.pods().map((p) => `${p.metadata!.name} ${p.spec!.nodeName} ${p.metadata!.annotations!["job.runner.gitlab.com/ref"]}`).sort();
const restarts = (samples: Sample[], resource?: string) => sum(samples, "gitlab_ci_exporter_kube_watch_restarts_total", resource ? { resource } : {});
/** Every sample the Kubernetes side renders from the cluster: job pods, their resources, spot nodes, lifetimes, interruptions, builds. */
const kubeView = (samples: Sample[]) =>
  samples
    .filter((s) => /^gitlab_ci_(job_pod|spot_node|image_build)/.test(s.name))
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .sort();
const lastEvent = (samples: Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_exporter_kube_last_event_timestamp_seconds")
    .map((s) => `${s.labels.resource} ${s.value}`)
    .sort();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function kubeHealth(env: KubeStack): Promise<{ status: number; stale: boolean; lastSuccess: string | null }> {
  const response = await fetch(`${env.stack.exporter.url}/readyz`);
  const body = (await response.json()) as { sources: Array<{ name: string; stale: boolean; lastSuccess: string | null }> };
  const source = body.sources.find((s) => s.name === "kubernetes")!;
  return { status: response.status, stale: source.stale, lastSuccess: source.lastSuccess };
}

/** The exporter shows the cluster as it is: every job pod, and every spot node. */
async function converged(env: KubeStack): Promise<Sample[]> {
  return eventually(
    async () => {
      const samples = await env.stack.scrape();
      expect(shownPods(samples)).toEqual(truePods(env.kubeWorld));
      expect(sum(samples, "gitlab_ci_spot_nodes")).toBe(env.kubeWorld.nodes().length);
      return samples;
    },
    15_000,
    100,
  );
}

interface Scenario {
  /** Arms the fault under test. */
  readonly fault: (faults: KubeFaults, cluster: Cluster) => void;
  /** What the simulator records once it has served that fault to the exporter. */
  readonly serves: readonly ServedFault[];
  /** The fault keeps the exporter blind by itself until cleared, so no outage is added. */
  readonly blinding?: boolean;
}

/**
 * One fault, then an outage. The fault is armed alone, until the simulator has served it and the
 * exporter has counted a restart, and the exporter shows the cluster as it then is (changed by
 * the fault itself when the API server restarted). Then, unless the fault keeps it blind by
 * itself, an outage: open streams are cut and the API server answers neither lists nor watches
 * (503), so the exporter cannot see the cluster. Meanwhile it serves the last known job pods and
 * spot nodes unchanged, the last-event timestamps stop, and once the outage outlasts the stale
 * threshold /readyz reports the source stale (still 200). The cluster changes while it is blind
 * (a pod added, one deleted, one changed, spot nodes reclaimed with their pods); once the faults
 * are cleared the exporter converges on the cluster, and observes each node's lifetime and each
 * interrupted pod exactly once.
 */
async function survive(name: string, scenario: Scenario): Promise<void> {
  const env = await startKubeStack(FAST, cluster());
  const { kubeWorld: world, kube } = env;
  const changes = new Cluster(world);
  try {
    const before = await converged(env);
    expect(sum(before, "gitlab_ci_spot_nodes")).toBe(3);
    expect(before.filter((s) => s.name === "gitlab_ci_spot_node_created_timestamp_seconds")).toHaveLength(3);
    expect((await kubeHealth(env)).stale).toBe(false);

    // The fault alone: served to the exporter's watches, and noticed.
    scenario.fault(kube.faults, changes);
    await eventually(
      async () => {
        for (const kind of scenario.serves) expect(kube.faults.servedOf(kind), kind).toBeGreaterThan(0);
        expect(restarts(await env.stack.scrape())).toBeGreaterThan(restarts(before));
      },
      15_000,
      50,
    );
    const absorbed = await converged(env);

    const blindFromMs = Date.now();
    if (!scenario.blinding) {
      kube.faults.failLists({ status: 503 });
      kube.faults.failWatches({ status: 503 });
      kube.faults.dropStreams();
    }
    // Noticed on both watches, and blind since: no event, not even a bookmark, across more than
    // two bookmark intervals.
    const frozen = await eventually(
      async () => {
        const first = await env.stack.scrape();
        await sleep(500);
        const samples = await env.stack.scrape();
        for (const resource of ["pods", "nodes"]) expect(restarts(samples, resource), resource).toBeGreaterThan(restarts(absorbed, resource));
        expect(lastEvent(samples)).toEqual(lastEvent(first));
        return samples;
      },
      15_000,
      50,
    );
    expect(kubeView(frozen)).toEqual(kubeView(absorbed));
    // Bytes already on the wire when the outage struck may land just after it.
    for (const line of lastEvent(frozen)) expect(Number(line.split(" ")[1])).toBeLessThanOrEqual(blindFromMs / 1000 + 0.5);

    world.addPod(jobPod(5, "spot-a"));
    world.deletePod("gitlab-runner", world.pods().find((p) => p.metadata!.name!.endsWith("j1"))!.metadata!.name!);
    world.updatePod("gitlab-runner", world.pods().find((p) => p.metadata!.name!.endsWith("j2"))!.metadata!.name!, (pod) => {
      pod.metadata!.annotations!["job.runner.gitlab.com/ref"] = "hotfix";
    });
    for (const name of ["spot-b", "spot-c"]) if (world.node(name)) changes.reclaim(name);

    // The outage outlasts the stale threshold: readiness says so, and keeps the pod in the Service.
    const stale = await eventually(
      async () => {
        const health = await kubeHealth(env);
        expect(health.stale).toBe(true);
        return health;
      },
      10_000,
      100,
    );
    expect(stale.status).toBe(200);
    expect(Date.now() - Date.parse(stale.lastSuccess!)).toBeGreaterThan(STALE_AFTER_MS);
    const during = await env.stack.scrape();
    expect(kubeView(during)).toEqual(kubeView(absorbed));
    expect(shownPods(during)).toEqual(shownPods(absorbed));
    expect(lastEvent(during)).toEqual(lastEvent(frozen));
    expect(sum(during, "gitlab_ci_exporter_build_info")).toBe(1);

    kube.faults.clear();

    const after = await eventually(
      async () => {
        const samples = await env.stack.scrape();
        expect(shownPods(samples)).toEqual(truePods(world));
        expect(sum(samples, "gitlab_ci_spot_nodes")).toBe(world.nodes().length);
        expect(sum(samples, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(2);
        expect(sum(samples, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
        expect((await kubeHealth(env)).stale).toBe(false);
        return samples;
      },
      20_000,
      100,
    );
    const convergedAtMs = Date.now();
    // A removal missed while blind is observed when a re-list finds it: late by the blindness at most.
    const lifetimes = after.filter((s) => s.name === "gitlab_ci_spot_node_lifetime_seconds_sum").map((s) => s.value);
    const lived = [...changes.reclaimedAtMs.values()].map((at) => (at - CREATED.getTime()) / 1000);
    expect(lived).toHaveLength(2);
    expect(lifetimes.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(lived.reduce((a, b) => a + b) - 0.001);
    expect(lifetimes.reduce((a, b) => a + b)).toBeLessThanOrEqual((2 * (convergedAtMs - CREATED.getTime())) / 1000);
    expect(sum(after, "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "spot_interruption" })).toBe(1);
    expect(sum(after, "gitlab_ci_spot_node_lifetime_seconds_count", { reason: "unknown" })).toBe(1);
    // spot-b's pods were victims of its known interruption; spot-c's may have ended before it went.
    expect(sum(after, "gitlab_ci_job_pods_interrupted_total", { reason: "spot_interruption" })).toBe(2);
    expect(Math.min(...after.filter((s) => s.name === "gitlab_ci_exporter_kube_last_event_timestamp_seconds").map((s) => s.value))).toBeGreaterThan(Math.max(...frozen.filter((s) => s.name === "gitlab_ci_exporter_kube_last_event_timestamp_seconds").map((s) => s.value)));

    // Nothing is observed again later.
    await sleep(600);
    const later = await env.stack.scrape();
    expect(sum(later, "gitlab_ci_spot_node_lifetime_seconds_count")).toBe(2);
    expect(sum(later, "gitlab_ci_job_pods_interrupted_total")).toBe(2);
  } finally {
    servedIn.set(name, kube.faults.servedByKind());
    await env.close();
  }
}

/**
 * The API server goes away, ending its streams, and comes back as `comeBack` says; pods and nodes
 * change before the exporter is back.
 */
const serverAway = (comeBack: (world: KubeWorld, faults: KubeFaults) => void) => (faults: KubeFaults, cluster: Cluster) => {
  faults.endStreams();
  comeBack(cluster.world, faults);
  changeWhileAway(cluster);
};

/** The exporter's next watch of each path resumes into a 410 Expired. */
const expireEachWatch = (faults: KubeFaults) => {
  for (const path of WATCHES) faults.expireNextWatch({ path });
};

describe.concurrent("the exporter survives Kubernetes API faults, shows them, and converges afterwards", () => {
  it("watch streams ended cleanly long before their timeout", () => survive("stream closed", { fault: (f) => f.endStreams(), serves: ["stream ended early"] }));
  it("watch connections reset", () => survive("connection reset", { fault: (f) => f.dropStreams(), serves: ["stream dropped"] }));
  it("410 Expired as an ERROR event when the watch resumes", () =>
    survive("410 ERROR event on resume", {
      fault(f) {
        expireEachWatch(f);
        f.endStreams();
      },
      serves: ["410 Expired"],
    }));
  it("410 Expired as an ERROR event in open streams", () =>
    survive("410 ERROR event in stream", { fault: (f) => f.errorEvent(410, "Expired", { message: "too old resource version" }), serves: ["ERROR event"] }));
  // The streams stay open after the event: only acting on the event itself ends the watch.
  it("another ERROR event in open streams (500 InternalError)", () =>
    survive("500 ERROR event", { fault: (f) => f.errorEvent(500, "InternalError", { keepOpen: true }), serves: ["ERROR event"] }));
  it("HTTP 410 Gone answering the watch when it resumes", () =>
    survive("HTTP 410", {
      fault(f) {
        f.httpGoneOnWatch();
        f.endStreams();
      },
      serves: ["HTTP 410"],
    }));
  // Expired on resume, the exporter must list, and lists fail until the fault is cleared.
  it("500 on list while the watch must re-list", () =>
    survive("500 on list", {
      fault(f) {
        f.failLists({ status: 500 });
        expireEachWatch(f);
        f.endStreams();
      },
      serves: ["410 Expired", "list failed"],
      blinding: true,
    }));
  it("a watch that stalls silently", () => survive("silent stall", { fault: (f) => f.stallWatches(), serves: ["stream stalled"] }));
  it("a watch that hangs open and silent past its timeout", () => survive("hang past timeout", { fault: (f) => f.hangWatches(), serves: ["stream hung"] }));
  it("the API server restarting: the revision moved on and its new watch cache no longer holds the exporter's version (410 on resume)", () =>
    survive("API server restart", { fault: serverAway((world) => world.restart()), serves: ["410 Expired"] }));
  it("etcd restored from a snapshot: versions went back below the exporter's, whose watch is accepted and kept silent", () =>
    survive("etcd restore", { fault: serverAway((world) => world.restoreEtcd()), serves: ["version ahead"] }));
  it("etcd restored from a snapshot, and the watch from a version ahead refused with 504 Too large resource version", () =>
    survive("etcd restore, 504", {
      fault: serverAway((world, faults) => {
        world.restoreEtcd();
        faults.tooLargeOnWatchAhead();
      }),
      serves: ["504 Too large resource version"],
    }));
});
