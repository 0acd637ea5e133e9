export { KubeWorld, podKey, withKind, type ChangeListener, type Resource, type WatchEvent, type WatchEventType } from "./world.js";
export { startKubeSimulator, KubeFaults, type KubeRequestRecord, type KubeSimulator } from "./server.js";
export {
  NODE_TAINTS,
  addDisruptionTarget,
  buildKubernetesJobPod,
  buildOnDemandNode,
  buildRunnerJobPod,
  buildSpotNode,
  cordon,
  podCreating,
  podFailedBy,
  podRunning,
  podTerminated,
  sanitizeLabel,
  taintNode,
  type DisruptionReason,
  type NodeOptions,
  type RunnerJobPodOptions,
  type SpotProvider,
} from "./builders.js";
export { KubeFleet, type KubeFleetOptions } from "./fleet.js";
