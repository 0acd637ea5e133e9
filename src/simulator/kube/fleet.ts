import type { CiFleetScenario, SimJob, SimProject } from "../gitlab/index.js";
import {
  NODE_TAINTS,
  addDisruptionTarget,
  buildKubernetesJobPod,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  podRunning,
  podTerminated,
  taintNode,
  type DisruptionReason,
} from "./builders.js";
import type { KubeWorld } from "./world.js";

export interface KubeFleetOptions {
  readonly kube: KubeWorld;
  readonly scenario: CiFleetScenario;
  readonly gitlabUrl: string;
  readonly spotNodes: number;
  readonly onDemandNodes: number;
  /** Jobs whose name or tags mention these run the Kaniko executor image. */
  readonly kanikoImage?: string;
  readonly namespace?: string;
}

/** How long after its job ends gitlab-runner deletes the pod. */
export const RUNNER_CLEANUP_MS = 1000;

const ZONES = ["us-west-2a", "us-west-2b", "us-west-2c"];
const SPOT_TYPES = ["m6i.2xlarge", "c6i.4xlarge", "m5.2xlarge"];

/**
 * The Kubernetes half of the simulated fleet, driven by the GitLab scenario: a runner pod per
 * started job on a spot or on-demand node, finished pods removed, and the ways spot capacity
 * goes away (cluster-autoscaler scale-down, spot interruption) taking their jobs down as
 * `runner_system_failure`, so both sides of the exporter see one consistent story.
 */
export class KubeFleet {
  private readonly podOfJob = new Map<number, { namespace: string; name: string; node: string }>();
  private nodeSerial = 0;
  private readonly namespace: string;
  private detach: (() => void) | undefined;

  constructor(private readonly options: KubeFleetOptions) {
    this.namespace = options.namespace ?? "gitlab-runner";
    for (let i = 0; i < options.spotNodes; i++) this.addNode(true);
    for (let i = 0; i < options.onDemandNodes; i++) this.addNode(false);
    this.detach = options.scenario.attach({
      onJobStarted: (job, project) => this.startPod(job, project),
      onJobFinished: (job) => this.finishPod(job),
    });
  }

  dispose(): void {
    this.detach?.();
    this.detach = undefined;
  }

  /** cluster-autoscaler at lunch: the node is tainted, its pods evicted, then it goes. */
  scaleDown(nodeName: string): void {
    this.takeDown(nodeName, NODE_TAINTS.autoscalerScaleDown, "EvictionByEvictionAPI");
  }

  /** The cloud reclaims a spot instance: the termination handler taints and drains it. */
  spotInterruption(nodeName: string): void {
    this.takeDown(nodeName, NODE_TAINTS.spotInterruption, "TerminationByKubelet");
  }

  spotNodeNames(): string[] {
    return this.options.kube
      .nodes()
      .filter((n) => n.metadata?.labels?.["eks.amazonaws.com/capacityType"] === "SPOT" && !(n.spec?.taints ?? []).length)
      .map((n) => n.metadata!.name!);
  }

  /** An image build in a plain Kubernetes Job, outside CI. */
  runPlainBuild(name: string, seconds: number, succeeds: boolean): void {
    const { kube, scenario } = this.options;
    const node = this.pickNode(false);
    const pod = buildKubernetesJobPod({ namespace: "builds", jobName: name, image: this.options.kanikoImage ?? "gcr.io/kaniko-project/executor:v1.23.2", nodeName: node });
    const stored = kube.addPod(pod);
    const podName = stored.metadata!.name!;
    kube.updatePod("builds", podName, (p) => podRunning(p, new Date(kube.now)));
    scenario.schedule(seconds * 1000, () => {
      kube.updatePod("builds", podName, (p) => podTerminated(p, { finishedAt: new Date(kube.now), exitCode: succeeds ? 0 : 1 }));
      scenario.schedule(5000, () => kube.pod("builds", podName) && kube.deletePod("builds", podName));
    });
  }

  private takeDown(nodeName: string, taint: { key: string; effect: string }, disruption: DisruptionReason): void {
    const { kube, scenario } = this.options;
    if (!kube.node(nodeName)) return;
    kube.updateNode(nodeName, (node) => taintNode(node, taint));
    for (const [jobId, pod] of [...this.podOfJob]) {
      if (pod.node !== nodeName) continue;
      kube.updatePod(pod.namespace, pod.name, (p) => addDisruptionTarget(p, disruption));
      this.podOfJob.delete(jobId);
      kube.deletePod(pod.namespace, pod.name);
      scenario.failWithSystemReason(jobId, "runner_system_failure");
    }
    scenario.schedule(2000, () => {
      if (kube.node(nodeName)) kube.deleteNode(nodeName);
      this.addNode(true);
    });
  }

  private startPod(job: SimJob, project: SimProject): void {
    const { kube } = this.options;
    const kaniko = /image/.test(job.name) || job.tags.includes("kaniko");
    const node = this.pickNode(job.tags.includes("spot") || this.nodeSerial % 3 !== 0);
    const pod = kube.addPod(
      buildRunnerJobPod({
        namespace: this.namespace,
        projectId: project.id,
        projectPath: project.pathWithNamespace,
        gitlabUrl: this.options.gitlabUrl,
        jobId: job.id,
        jobName: job.name,
        ref: job.ref,
        nodeName: node,
        runnerName: job.runner?.description ?? "eks-spot-runner",
        buildImage: kaniko ? (this.options.kanikoImage ?? "gcr.io/kaniko-project/executor:v1.23.2-debug") : "node:22-alpine",
        requests: kaniko ? { cpu: "2", memory: "4Gi" } : { cpu: "500m", memory: "1Gi" },
        limits: kaniko ? { cpu: "4", memory: "8Gi" } : { memory: "2Gi" },
      }),
    );
    const name = pod.metadata!.name!;
    this.podOfJob.set(job.id, { namespace: this.namespace, name, node });
    kube.updatePod(this.namespace, name, (p) => podRunning(p, new Date(kube.now)));
  }

  private finishPod(job: SimJob): void {
    const { kube, scenario } = this.options;
    const pod = this.podOfJob.get(job.id);
    if (!pod) return;
    this.podOfJob.delete(job.id);
    // gitlab-runner deletes the pod once it has sent the job's result, its containers still
    // running (the build container runs a shell the runner feeds): a finished job's pod goes away
    // Running, never Succeeded.
    scenario.schedule(RUNNER_CLEANUP_MS, () => kube.pod(pod.namespace, pod.name) && kube.deletePod(pod.namespace, pod.name));
  }

  private pickNode(spot: boolean): string {
    const nodes = this.options.kube
      .nodes()
      .filter((n) => (n.metadata?.labels?.["eks.amazonaws.com/capacityType"] === "SPOT") === spot && !(n.spec?.taints ?? []).length);
    const chosen = nodes[this.nodeSerial++ % Math.max(1, nodes.length)];
    return chosen?.metadata?.name ?? this.addNode(spot);
  }

  private addNode(spot: boolean): string {
    const serial = ++this.nodeSerial;
    const zone = ZONES[serial % ZONES.length]!;
    const name = `ip-10-0-${Math.floor(serial / 250)}-${serial % 250}.us-west-2.compute.internal`;
    const options = { name, zone, instanceType: spot ? SPOT_TYPES[serial % SPOT_TYPES.length]! : "m6i.xlarge", nodegroup: spot ? "ci-spot" : "ci-ondemand", createdAt: new Date(this.options.kube.now) };
    this.options.kube.addNode(spot ? buildSpotNode({ ...options, provider: "eks" }) : buildOnDemandNode(options));
    return name;
  }
}
