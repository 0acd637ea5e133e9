import type { PipelineObservation } from "../../domain/pipeline.js";
import { plausibleTimestamp } from "../../domain/plausibility.js";
import type { Rejections } from "../../lib/rejections.js";
import { parseGitLabTime, type PipelineHook, type RestPipeline } from "./wire.js";

/**
 * The pipeline a Pipeline Hook reports, or null for a child pipeline (`source` "parent_pipeline"):
 * the pipelines check lists only top-level pipelines, as GitLab's pipelines API does, so both
 * sources count the same pipelines, and a child's jobs are part of its parent's run.
 * A `finished_at` outside what is plausible is refused (counted, logged) and taken as unknown.
 */
export function observeHookPipeline(hook: PipelineHook, receivedAtMs: number, rejections: Rejections): PipelineObservation | null {
  const { id, status, finished_at: finishedAt, source } = hook.object_attributes;
  if (source === "parent_pipeline") return null;
  let finishedAtMs: number | null = null;
  if (finishedAt !== null && finishedAt !== undefined) {
    const checked = plausibleTimestamp(typeof finishedAt === "string" ? (parseGitLabTime(finishedAt) ?? Number.NaN) : Number.NaN, receivedAtMs);
    if (checked.refused) rejections.reject("gitlab_webhook", checked.refused, { pipelineId: id, field: "finished_at", value: String(finishedAt).slice(0, 64) });
    finishedAtMs = checked.value;
  }
  return { id, projectId: hook.project.id, status, finishedAtMs };
}

/**
 * A pipeline as the pipelines API lists it. The listing has no `finished_at`; its `updated_at`,
 * set with every change of status, is the latest moment it can have reached its status, so one
 * last updated before the exporter started is never counted. `updatedAtMs`: that time, already
 * held to what is plausible (null when not).
 */
export function observeRestPipeline(pipeline: RestPipeline, projectId: number, updatedAtMs: number | null): PipelineObservation {
  return { id: pipeline.id, projectId, status: pipeline.status, finishedAtMs: updatedAtMs };
}
