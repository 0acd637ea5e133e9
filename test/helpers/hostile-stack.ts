import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../src/simulator/gitlab/index.js";
import { buildRunnerJobPod, buildSpotNode, KubeWorld, podRunning, startKubeSimulator, type KubeSimulator } from "../../src/simulator/kube/index.js";
import { startHostileProxy, type HostileProxy } from "./hostile-proxy.js";
import { parseMetrics, type Sample } from "./prom.js";

export const TOKEN = "glpat-hostile-peer-token-0123456789";
export const WEBHOOK_SECRET = "hostile-peer-webhook-secret";

/** The peers one scenario talks to: real simulators (the ground truth) behind proxies that can turn hostile. */
export interface HostilePeers {
  readonly world: GitLabWorld;
  readonly gitlab: GitLabSimulator;
  readonly gitlabProxy: HostileProxy;
  readonly kube?: { readonly world: KubeWorld; readonly simulator: KubeSimulator; readonly proxy: HostileProxy; readonly kubeconfig: string };
  /** Settings that point the exporter at these peers, with short intervals for a test. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/** Group `acme` with three projects, one pending job in acme/api. */
export function smallGitLab(): GitLabWorld {
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  const api = world.addProject("acme/api");
  world.addProject("acme/web");
  world.addProject("acme/ops");
  world.createJob(api.id, { name: "build", tags: ["docker"], status: "pending" });
  return world;
}

export function jobPod(jobId: number, node: string): V1Pod {
  const pod = buildRunnerJobPod({ projectId: 1, projectPath: "acme/api", jobId, jobName: `job-${jobId}`, ref: "main", nodeName: node, suffix: `j${jobId}` });
  podRunning(pod, new Date());
  return pod;
}

/** One spot node with three job pods. */
export function smallCluster(): KubeWorld {
  const world = new KubeWorld();
  world.addNode(buildSpotNode({ name: "spot-a", nodegroup: "ci-spot", createdAt: new Date(Date.now() - 3_600_000) }));
  for (const id of [1, 2, 3]) world.addPod(jobPod(id, "spot-a"));
  return world;
}

export async function startHostilePeers(options: { world?: GitLabWorld; cluster?: KubeWorld } = {}): Promise<HostilePeers> {
  const world = options.world ?? smallGitLab();
  const gitlab = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000, projectJobsRateLimitPerMinute: false });
  const gitlabProxy = await startHostileProxy(gitlab.url);
  let kube: HostilePeers["kube"];
  let dir: string | undefined;
  if (options.cluster) {
    const simulator = await startKubeSimulator({ world: options.cluster, bookmarkIntervalMs: 200 });
    const proxy = await startHostileProxy(simulator.url);
    dir = await mkdtemp(path.join(tmpdir(), "hostile-kube-"));
    const kubeconfig = path.join(dir, "kubeconfig");
    await writeFile(kubeconfig, simulator.kubeconfig().replace(`server: ${simulator.url}`, `server: ${proxy.url}`));
    kube = { world: options.cluster, simulator, proxy, kubeconfig };
  }
  const env: Record<string, string> = {
    GITLAB_URL: gitlabProxy.url,
    GITLAB_TOKEN: TOKEN,
    GITLAB_GROUPS: "acme",
    GITLAB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    GITLAB_POLL_INTERVAL_SECONDS: "0.2",
    GITLAB_DISCOVERY_INTERVAL_SECONDS: "1",
    GITLAB_MAX_REQUESTS_PER_SECOND: "100",
    GITLAB_IDLE_REQUESTS_PER_SECOND: "20",
    GITLAB_REQUEST_TIMEOUT_SECONDS: "3",
    LABEL_VALUE_MAX_BYTES: "512",
    LOG_LEVEL: "info",
    // Each scenario ends the process; none tests the grace period, which the rollout test covers.
    SHUTDOWN_GRACE_SECONDS: "0",
    ...(kube
      ? {
          KUBE_ENABLED: "true",
          KUBECONFIG: kube.kubeconfig,
          KUBE_WATCH_STALL_SECONDS: "2",
          KUBE_RETRY_INITIAL_SECONDS: "0.05",
          KUBE_RETRY_MAX_SECONDS: "0.5",
          KUBE_MAX_WATCH_LINE_BYTES: String(8 * 2 ** 20),
          KUBE_MAX_LIST_PAGES: "20",
        }
      : { KUBE_ENABLED: "false" }),
  };
  return {
    world,
    gitlab,
    gitlabProxy,
    kube,
    env,
    async close() {
      await gitlabProxy.close();
      await gitlab.close();
      if (kube) {
        await kube.proxy.close();
        await kube.simulator.close();
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One scrape with a deadline, and how long it took. */
export async function scrapeTimed(baseUrl: string): Promise<{ samples: Sample[]; bytes: number; ms: number }> {
  const startedAt = performance.now();
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return { samples: parseMetrics(text), bytes: Buffer.byteLength(text), ms: performance.now() - startedAt };
}

export const scrapeOf = async (baseUrl: string) => (await scrapeTimed(baseUrl)).samples;

/** The job pods the exporter shows, and those the cluster holds. */
export const shownPods = (samples: readonly Sample[]) =>
  samples
    .filter((s) => s.name === "gitlab_ci_job_pod_info")
    .map((s) => s.labels.pod!)
    .sort();
export const truePods = (world: KubeWorld) => world.pods().map((p) => p.metadata!.name!).sort();
