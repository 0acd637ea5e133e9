import { z } from "zod";
import { failureReasonFor, isJobStatus, tagsLabel, type JobObservation, type JobStatus } from "../../domain/job.js";

/**
 * GitLab's wire formats, parsed once at the edge. Only the fields the exporter reads are
 * required; everything else GitLab adds over the versions is accepted and ignored.
 */

const timestamp = z.string().nullable().optional();
/** A field read only as a hint: a value of the wrong type is taken as absent rather than refusing the payload. */
const hintTimestamp = timestamp.catch(null);
const hintId = z.number().int().positive().nullable().optional().catch(null);
const seconds = z.number().nonnegative().nullable().optional();
const runnerSchema = z
  .object({ description: z.string().nullable().optional() })
  .nullable()
  .optional();

export const restJobSchema = z.object({
  id: z.number().int().positive(),
  status: z.string(),
  tag_list: z.array(z.string()).default([]),
  created_at: timestamp,
  started_at: timestamp,
  finished_at: hintTimestamp,
  queued_duration: seconds,
  duration: seconds,
  failure_reason: z.string().nullable().optional(),
  runner: runnerSchema,
  pipeline: z.object({ id: z.number().int().positive() }).nullable().optional().catch(null),
});
export type RestJob = z.infer<typeof restJobSchema>;

export const restJobListSchema = z.array(restJobSchema);

export const restProjectSchema = z.object({
  id: z.number().int().positive(),
  path_with_namespace: z.string().min(1),
  archived: z.boolean().optional(),
});
export type RestProject = z.infer<typeof restProjectSchema>;

export const restProjectListSchema = z.array(restProjectSchema);

/** A pipeline as `GET /projects/:id/pipelines` lists it (doc/api/pipelines.md). */
export const restPipelineSchema = z.object({
  id: z.number().int().positive(),
  status: z.string(),
  updated_at: z.string().min(1),
});
export type RestPipeline = z.infer<typeof restPipelineSchema>;

const hookProjectSchema = z.object({
  id: z.number().int().positive(),
  path_with_namespace: z.string().min(1),
});

export const jobHookSchema = z.object({
  object_kind: z.literal("build"),
  build_id: z.number().int().positive(),
  build_status: z.string().refine(isJobStatus, { message: "not a GitLab job status" }),
  build_started_at: timestamp,
  build_finished_at: hintTimestamp,
  build_duration: seconds,
  build_queued_duration: seconds,
  build_failure_reason: z.string().nullable().optional(),
  pipeline_id: hintId,
  project_id: z.number().int().positive(),
  project: hookProjectSchema,
  runner: runnerSchema,
});
export type JobHook = z.infer<typeof jobHookSchema>;

export const pipelineHookSchema = z.object({
  object_kind: z.literal("pipeline"),
  object_attributes: z.object({ id: z.number().int().positive(), status: z.string() }),
  project: hookProjectSchema,
  builds: z
    .array(
      z.object({
        id: z.number().int().positive(),
        status: z.string().refine(isJobStatus, { message: "not a GitLab job status" }),
        started_at: timestamp,
        finished_at: hintTimestamp,
        duration: seconds,
        queued_duration: seconds,
        failure_reason: z.string().nullable().optional(),
        runner: runnerSchema,
      }),
    )
    .default([]),
});
export type PipelineHook = z.infer<typeof pipelineHookSchema>;

/**
 * GitLab writes timestamps as ISO 8601 in the REST API and job hooks, and as
 * `2016-08-12 15:23:28 UTC` in pipeline hooks. A timestamp without a fraction is the start of
 * its second, never later than the moment it names: a finish compared with the exporter's start
 * errs towards "before", so a truncated hook time never replays history.
 */
export function parseGitLabTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const iso = value.replace(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC$/, "$1T$2Z");
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The moment a job entered the queue. The REST API and hooks give only `queued_duration`, which
 * for a pending job keeps growing, so it is anchored at the moment the answer was received.
 */
function queuedAt(status: JobStatus, queuedSeconds: number | null, startedAtMs: number | null, receivedAtMs: number): number | null {
  if (queuedSeconds === null || queuedSeconds === undefined) return null;
  if (status === "pending") return Math.round(receivedAtMs - queuedSeconds * 1000);
  if (startedAtMs !== null) return Math.round(startedAtMs - queuedSeconds * 1000);
  return null;
}

/** Null when GitLab reports a status this exporter does not know (a newer GitLab); the job is skipped. */
export function observeRestJob(job: RestJob, projectId: number, receivedAtMs: number): JobObservation | null {
  if (!isJobStatus(job.status)) return null;
  const status = job.status;
  const startedAtMs = parseGitLabTime(job.started_at);
  const queuedSeconds = job.queued_duration ?? null;
  return {
    id: job.id,
    projectId,
    status,
    tags: tagsLabel(job.tag_list),
    runner: job.runner?.description ?? "",
    failureReason: failureReasonFor(status, job.failure_reason),
    queuedDurationSeconds: queuedSeconds,
    durationSeconds: job.duration ?? null,
    queuedAtMs: queuedAt(status, queuedSeconds, startedAtMs, receivedAtMs) ?? (status === "pending" ? parseGitLabTime(job.created_at) : null),
    startedAtMs,
    finishedAtMs: parseGitLabTime(job.finished_at),
    pipelineId: job.pipeline?.id ?? null,
  };
}

/** What a hook says about one job; its tags are unknown (hooks carry the runner's tags, not the job's). */
function hookObservation(
  fields: {
    id: number;
    projectId: number;
    status: string;
    startedAt: string | null | undefined;
    finishedAt: string | null | undefined;
    pipelineId: number | null | undefined;
    queuedSeconds: number | null | undefined;
    durationSeconds: number | null | undefined;
    failureReason: string | null | undefined;
    runner: { description?: string | null | undefined } | null | undefined;
  },
  receivedAtMs: number,
): JobObservation {
  const status = fields.status as JobStatus;
  const startedAtMs = parseGitLabTime(fields.startedAt);
  const queuedSeconds = fields.queuedSeconds ?? null;
  return {
    id: fields.id,
    projectId: fields.projectId,
    status,
    tags: null,
    runner: fields.runner?.description ?? "",
    failureReason: failureReasonFor(status, fields.failureReason),
    queuedDurationSeconds: queuedSeconds,
    durationSeconds: fields.durationSeconds ?? null,
    queuedAtMs: queuedAt(status, queuedSeconds, startedAtMs, receivedAtMs),
    startedAtMs,
    finishedAtMs: parseGitLabTime(fields.finishedAt),
    pipelineId: fields.pipelineId ?? null,
  };
}

export function observeJobHook(hook: JobHook, receivedAtMs: number): JobObservation {
  return hookObservation(
    {
      id: hook.build_id,
      projectId: hook.project_id,
      status: hook.build_status,
      startedAt: hook.build_started_at,
      finishedAt: hook.build_finished_at,
      pipelineId: hook.pipeline_id,
      queuedSeconds: hook.build_queued_duration,
      durationSeconds: hook.build_duration,
      failureReason: hook.build_failure_reason,
      runner: hook.runner,
    },
    receivedAtMs,
  );
}

export function observePipelineHook(hook: PipelineHook, receivedAtMs: number): JobObservation[] {
  return hook.builds.map((build) =>
    hookObservation(
      {
        id: build.id,
        projectId: hook.project.id,
        status: build.status,
        startedAt: build.started_at,
        finishedAt: build.finished_at,
        pipelineId: hook.object_attributes.id,
        queuedSeconds: build.queued_duration,
        durationSeconds: build.duration,
        failureReason: build.failure_reason,
        runner: build.runner,
      },
      receivedAtMs,
    ),
  );
}

/** A readable one-line reason from a schema failure, for a 400 answer or a log line. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`)
    .join("; ");
}
