import { tagsLabel } from "../../src/domain/job.js";
import type { GitLabWorld } from "../../src/simulator/gitlab/index.js";

/** Ground truth read from the simulator's world, shaped like the exporter's families. */
export function liveTruth(world: GitLabWorld, status: "pending" | "running"): Map<string, number> {
  const result = new Map<string, number>();
  for (const job of world.jobs()) {
    if (job.status !== status) continue;
    const key = `${world.project(job.projectId)!.pathWithNamespace}|${tagsLabel(job.tags)}`;
    result.set(key, (result.get(key) ?? 0) + 1);
  }
  return result;
}

export function oldestQueuedTruth(world: GitLabWorld): Map<string, number> {
  const result = new Map<string, number>();
  for (const job of world.jobs()) {
    if (job.status !== "pending" || job.queuedAt === null || job.queuedAt === undefined) continue;
    const key = `${world.project(job.projectId)!.pathWithNamespace}|${tagsLabel(job.tags)}`;
    const seconds = job.queuedAt / 1000;
    result.set(key, Math.min(result.get(key) ?? Infinity, seconds));
  }
  return result;
}

/** Jobs that finished at or after `sinceMs`, by project|status|failure_reason|runner. */
export function finishedTruth(world: GitLabWorld, sinceMs: number): Map<string, number> {
  const result = new Map<string, number>();
  for (const job of world.jobs()) {
    if (!["success", "failed", "canceled"].includes(job.status) || job.finishedAt === null || job.finishedAt === undefined || job.finishedAt < sinceMs) continue;
    const reason = job.status === "failed" ? (job.failureReason ?? "") : "";
    const key = [world.project(job.projectId)!.pathWithNamespace, job.status, reason, job.runner?.description ?? ""].join("|");
    result.set(key, (result.get(key) ?? 0) + 1);
  }
  return result;
}

/** Jobs that left the queue at or after `sinceMs`, per project. */
export function startedTruth(world: GitLabWorld, sinceMs: number): Map<string, number> {
  const result = new Map<string, number>();
  for (const job of world.jobs()) {
    if (job.startedAt === null || job.startedAt === undefined || job.startedAt < sinceMs) continue;
    const key = world.project(job.projectId)!.pathWithNamespace;
    result.set(key, (result.get(key) ?? 0) + 1);
  }
  return result;
}

/** Finished jobs that had started, at or after `sinceMs`, by project|status. */
export function durationTruth(world: GitLabWorld, sinceMs: number): Map<string, number> {
  const result = new Map<string, number>();
  for (const job of world.jobs()) {
    if (!["success", "failed", "canceled"].includes(job.status) || job.startedAt === null || job.startedAt === undefined) continue;
    if (job.finishedAt === null || job.finishedAt === undefined || job.finishedAt < sinceMs) continue;
    const key = `${world.project(job.projectId)!.pathWithNamespace}|${job.status}`;
    result.set(key, (result.get(key) ?? 0) + 1);
  }
  return result;
}

/**
 * Top-level pipelines (not `parent_pipeline` children) in a final status reached at or after
 * `sinceMs` (their `updated_at`, set with their status), by project|status.
 */
export function pipelinesFinishedTruth(world: GitLabWorld, sinceMs: number): Map<string, number> {
  const result = new Map<string, number>();
  for (const project of world.projects()) {
    for (const pipeline of world.projectPipelines(project.id)) {
      if (!["success", "failed", "canceled", "skipped"].includes(pipeline.status) || pipeline.source === "parent_pipeline" || pipeline.updatedAt < sinceMs) continue;
      const key = `${project.pathWithNamespace}|${pipeline.status}`;
      result.set(key, (result.get(key) ?? 0) + 1);
    }
  }
  return result;
}
