import { GitLabWorld, type SimProject } from "../src/simulator/gitlab/index.js";
import { KubeWorld, buildOnDemandNode, buildRunnerJobPod, buildSpotNode, podRunning } from "../src/simulator/kube/index.js";
import type { V1Pod } from "@kubernetes/client-node";

/** The size of a benchmark's fleet: every preset, single or sharded, builds it the same way. */
export interface FleetScale {
  readonly projects: number;
  readonly active: number;
  readonly liveJobs: number;
  readonly nodes: number;
  readonly spotNodes: number;
}

/** The runner the benchmark's jobs run on, and the tag sets they cycle through. */
export const BENCH_RUNNER = { id: 1, description: "bench-runner" };
export const BENCH_TAG_SETS: readonly string[][] = [["docker"], ["docker", "spot"], ["kaniko"], []];

/** Configured projects under a few groups, the active ones with live jobs (half pending, half running). */
export function buildBenchGitLab(scale: FleetScale): { readonly world: GitLabWorld; readonly projects: SimProject[]; readonly active: SimProject[] } {
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com" });
  const projects = Array.from({ length: scale.projects }, (_, i) => world.addProject(`fleet/team-${i % 20}/service-${i}`));
  const active = projects.filter((_, i) => i % Math.floor(scale.projects / scale.active) === 0).slice(0, scale.active);
  for (let i = 0; i < scale.liveJobs; i++) {
    const job = world.createJob(active[i % active.length]!.id, { name: `live-${i}`, tags: BENCH_TAG_SETS[i % BENCH_TAG_SETS.length]!, status: "pending" });
    if (i % 2 === 0) world.start(job.id, BENCH_RUNNER);
  }
  return { world, projects, active };
}

/**
 * Nodes (most of them spot) over three zones, and the maker of the runner job pods spread over
 * them: pod `i` runs a job of project `i mod projects`, one in ten a Kaniko build.
 */
export function buildBenchCluster(scale: FleetScale, projects: readonly SimProject[]): { readonly cluster: KubeWorld; readonly runnerPod: (i: number, runningSince: Date) => V1Pod } {
  const cluster = new KubeWorld({ historySize: 20_000 });
  const nodeNames: string[] = [];
  for (let i = 0; i < scale.nodes; i++) {
    const options = { name: `ip-10-1-${Math.floor(i / 250)}-${i % 250}.compute.internal`, zone: ["us-west-2a", "us-west-2b", "us-west-2c"][i % 3]!, nodegroup: i < scale.spotNodes ? `ci-spot-${i % 4}` : "ci-ondemand" };
    cluster.addNode(i < scale.spotNodes ? buildSpotNode(options) : buildOnDemandNode(options));
    nodeNames.push(options.name);
  }
  const runnerPod = (i: number, runningSince: Date) => {
    const project = projects[i % projects.length]!;
    const pod = buildRunnerJobPod({
      projectId: project.id,
      projectPath: project.pathWithNamespace,
      jobId: 5_000_000 + i,
      jobName: `job-${i % 40}`,
      ref: `feature/branch-${i % 500}`,
      nodeName: nodeNames[i % nodeNames.length]!,
      suffix: `p${i}`,
      buildImage: i % 10 === 0 ? "gcr.io/kaniko-project/executor:v1.23.2" : "node:22",
      requests: { cpu: "500m", memory: "1Gi" },
      limits: { memory: "2Gi" },
    });
    pod.metadata!.creationTimestamp = new Date(runningSince.getTime() - 60_000);
    podRunning(pod, runningSince);
    return pod;
  };
  return { cluster, runnerPod };
}
