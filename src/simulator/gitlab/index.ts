export { GitLabWorld, type CreateJobOptions, type GitLabWorldOptions, type JobListener, type PipelineListener } from "./world.js";
export {
  FINISHED_STATUSES,
  isFinished,
  type ProjectAccess,
  type ProjectVisibility,
  type SimGroup,
  type SimJob,
  type SimJobStatus,
  type SimPipeline,
  type SimPipelineStatus,
  type SimProject,
  type SimRunner,
} from "./model.js";
export { startGitLabSimulator, type GitLabSimulator, type GitLabSimulatorOptions } from "./server.js";
export { RequestLog, type RequestFilter, type RequestRecord } from "./request-log.js";
export { GitLabFaults, type ArmedFault, type Fault, type FaultKind, type FaultScope } from "./faults.js";
export { afterDelivery, hookStatus, type AutoDisableRule, type HookHealthState, type HookStatus } from "./hook-health.js";
export { WebhookSender, deliver, deliveryHeaders, GITLAB_USER_AGENT, type HookEvent, type DeliveryAttempt, type DisabledHook, type HookHandle, type HookTarget, type WebhookSenderOptions, type WebhookStats } from "./webhooks.js";
export { jobHookBody, pipelineHookBody } from "./hook-bodies.js";
export { renderJob, renderProject } from "./render.js";
export { CiFleetScenario, DEFAULT_SYSTEM_FAILURE_REASONS, type CiFleetOptions, type FleetStats, type JobLifecycleHooks } from "./scenario.js";
export { ManualClock } from "./clock.js";
export { Dice, seededRandom } from "./random.js";
export { generateProjectPaths } from "./fleet-shapes.js";
export { answerGraphql, gitlabSchema, type GraphqlMode } from "./graphql-endpoint.js";
export { GITLAB_SDL } from "./graphql-schema.js";
export { atLeast, GITLAB_COM, GITLAB_PROFILES, hasModernJobHook, projectJobsRateLimit, SELF_MANAGED, SELF_MANAGED_16_2, sendsJobHook, type GitLabProfile } from "./profile.js";
