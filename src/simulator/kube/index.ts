export { KubeWorld, podKey, withKind, type ChangeListener, type Resource, type WatchEvent, type WatchEventType } from "./world.js";
export { ClusterObjects } from "./objects.js";
export { startKubeSimulator, KubeFaults, type FaultScope, type KubeRequestRecord, type KubeSimulator, type ServedFault, type WatchEndCause } from "./server.js";
export {
  NODE_TAINTS,
  addDisruptionTarget,
  buildKubernetesJobPod,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  cordon,
  imagePullMessage,
  nodeGroupOf,
  nodeNotReady,
  nodeReady,
  NOT_READY_TAINT,
  podContainerWaiting,
  podCreating,
  podFailedBy,
  podRunning,
  podTerminated,
  podUnschedulable,
  sanitizeLabel,
  taintNode,
  type DisruptionReason,
  type NodeOptions,
  type RunnerJobPodOptions,
  type SpotProvider,
} from "./builders.js";
export { KubeFleet, NODE_REMOVAL_MS, NODE_REMOVALS, RUNNER_CLEANUP_MS, type KubeFleetOptions, type NodeRemoval } from "./fleet.js";
export {
  ClusterCapacity,
  DEFAULT_CAPACITY_TIMING,
  ManualTimeline,
  nodePool,
  RealTimeline,
  type CapacityPool,
  type CapacityTiming,
  type PodStage,
  type StartupTruth,
  type Timeline,
  type WaitingTruth,
} from "./capacity.js";
export { INSTANCE_TYPES, nodeResources, simulatedPricesYaml, type InstanceType } from "./instance-types.js";
