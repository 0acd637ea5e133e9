import type { ContainerSnapshot, PodSnapshot, PodStart } from "../../src/domain/pod.js";

/** A container snapshot with requests and limits set and no builder, as most job pod containers. */
export function container(name: string, overrides: Partial<ContainerSnapshot> = {}): ContainerSnapshot {
  return { name, requests: { cpu: 1, memory: 2 ** 30 }, limits: { memory: 2 ** 31 }, builder: null, finishedRuns: [], ...overrides };
}

/** A running runner job pod's snapshot on node n1 (job 1 of acme/api), its `build` and `helper` containers. */
export function jobPod(name: string, overrides: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    uid: `uid-${name}`,
    namespace: "gitlab-runner",
    name,
    nodeName: "n1",
    phase: "Running",
    statusReason: "",
    disruption: null,
    finishedAtMs: null,
    deletionRequestedAtMs: null,
    job: { jobId: "1", project: "acme/api", ref: "main", jobName: "build", pipelineId: "", runner: "r" },
    containers: [container("build"), container("helper")],
    start: started(),
    ...overrides,
  };
}

/** A job pod's way to running: every container started, no times told unless given. */
export function started(overrides: Partial<PodStart> = {}): PodStart {
  return { createdAtMs: null, unschedulable: false, waitingReasons: [], allStarted: true, startupSeconds: null, schedulingSeconds: null, ...overrides };
}

/** A job pod's way to running while it waits: nothing started yet. */
export function waiting(overrides: Partial<PodStart> = {}): PodStart {
  return started({ allStarted: false, ...overrides });
}
