export { GitLabWorld, type SimGroup, type SimJob, type SimJobStatus, type SimPipeline, type SimProject, type SimRunner } from "./world.js";
export { startGitLabSimulator, RequestLog, type GitLabSimulator, type GitLabSimulatorOptions, type RequestRecord } from "./server.js";
export { GitLabFaults, type Fault, type FaultScope } from "./faults.js";
export { WebhookSender, deliver, jobHookBody, pipelineHookBody, type HookTarget } from "./webhooks.js";
export { CiFleetScenario, ManualClock, seededRandom, DEFAULT_SYSTEM_FAILURE_REASONS, type CiFleetOptions, type JobLifecycleHooks } from "./scenario.js";
