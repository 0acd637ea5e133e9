import { CiFleetScenario, GitLabWorld, type ManualClock } from "../simulator/gitlab/index.js";
import { DEFAULT_CAPACITY_TIMING, KubeFleet, KubeWorld, NODE_REMOVAL_MS, RUNNER_CLEANUP_MS, type CapacityTiming } from "../simulator/kube/index.js";

/** The demo's ordinary load: a job every ten seconds, five minutes each, one in a hundred failing for the CI system. */
export const BASE_LOAD = { jobsPerMinute: 6, systemFailureRatio: 0.01 } as const;

/** The demo's CI fleet: a simulated GitLab and cluster, and the scenario that plays them. */
export interface DemoFleet {
  readonly world: GitLabWorld;
  readonly scenario: CiFleetScenario;
  readonly cluster: KubeWorld;
  readonly fleet: KubeFleet;
  /** Simulated time per real time: 1 for the demo, more for a test that plays the day in a minute. */
  readonly speed: number;
}

/**
 * Builds the demo's fleet: 60 projects, 12 of them running pipelines, half of the jobs tagged
 * for spot runners; runner pods go through the scheduler (bin-packing, eight job pods a node),
 * cluster-autoscaler and image pulls. At `speed` above 1 every duration (queue and run times,
 * node launches, pulls, cleanups) is that many times shorter and jobs arrive that many times
 * faster, so the fleet holds the same number of jobs and pods at any moment of its day.
 */
export function buildDemoFleet(options: { speed?: number; clock?: ManualClock } = {}): DemoFleet {
  const speed = options.speed ?? 1;
  const clock = options.clock;
  const world = new GitLabWorld({ baseUrl: "https://gitlab.example.com", ...(clock ? { now: clock.now } : {}) });
  const scenario = new CiFleetScenario({
    world,
    seed: 42,
    projects: 60,
    activeProjects: 12,
    tagSets: [["docker", "spot"], ["docker", "spot"], ["docker", "linux"], ["kaniko"]],
    runners: [
      { id: 1, description: "eks-spot-runner" },
      { id: 2, description: "eks-ondemand-runner" },
    ],
    jobsPerMinute: BASE_LOAD.jobsPerMinute * speed,
    meanQueueSeconds: 8 / speed,
    meanRunSeconds: 300 / speed,
    scriptFailureRatio: 0.12,
    systemFailureRatio: BASE_LOAD.systemFailureRatio,
    canceledRatio: 0.02,
    ...(clock ? { clock } : {}),
  });
  const cluster = new KubeWorld({ historySize: 50_000, ...(clock ? { now: clock.now } : {}) });
  const fleet = new KubeFleet({
    kube: cluster,
    scenario,
    gitlabUrl: world.baseUrl,
    spotNodes: 4,
    onDemandNodes: 2,
    capacity: { podsPerNode: 8, packing: "binpack", jobsWaitForPods: true, timing: faster(DEFAULT_CAPACITY_TIMING, speed) },
    delays: { runnerCleanupMs: RUNNER_CLEANUP_MS / speed, nodeRemovalMs: NODE_REMOVAL_MS / speed },
  });
  return { world, scenario, cluster, fleet, speed };
}

function faster(timing: CapacityTiming, speed: number): CapacityTiming {
  return Object.fromEntries(Object.entries(timing).map(([name, ms]) => [name, ms / speed])) as unknown as CapacityTiming;
}
