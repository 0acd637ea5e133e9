import { z } from "zod";
import { failureReasonFor, isJobStatus, tagsLabel, type JobObservation, type JobStatus } from "../../domain/job.js";
import { FieldChecks } from "../../domain/plausibility.js";
import { ignoreRejections, type RejectionSource, type Rejections } from "../../lib/rejections.js";

/**
 * GitLab's wire formats, parsed once at the edge. Only the fields the exporter reads are
 * required; everything else GitLab adds over the versions is accepted and ignored.
 */

const timestamp = z.string().nullable().optional();
/**
 * A field read only as a hint: any value passes the schema, and one of the wrong type is taken as
 * absent (counted and logged) rather than refusing the payload.
 */
const hint = z.unknown().optional();
/**
 * Any number, `Infinity` (JSON's `1e999`) included: whether it is plausible is decided per field
 * (see domain/plausibility.ts), so one absurd duration costs that field, not the job.
 */
const seconds = z
  .custom<number>((value) => typeof value === "number", { message: "expected a number" })
  .nullable()
  .optional();
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
  finished_at: hint,
  queued_duration: seconds,
  duration: seconds,
  failure_reason: z.string().nullable().optional(),
  runner: runnerSchema,
  pipeline: hint,
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
  build_finished_at: hint,
  build_duration: seconds,
  build_queued_duration: seconds,
  build_failure_reason: z.string().nullable().optional(),
  pipeline_id: hint,
  project_id: z.number().int().positive(),
  // GitLab before about 16.3 sends no `project` object (only project_id and project_name).
  project: hookProjectSchema.optional(),
  runner: runnerSchema,
});
export type JobHook = z.infer<typeof jobHookSchema>;

export const pipelineHookSchema = z.object({
  object_kind: z.literal("pipeline"),
  // `finished_at` as "2016-08-12 15:26:29 UTC", null while live and for skipped pipelines;
  // `source` "parent_pipeline" for a child pipeline.
  object_attributes: z.object({ id: z.number().int().positive(), status: z.string(), finished_at: hint, source: hint }),
  project: hookProjectSchema,
  builds: z
    .array(
      z.object({
        id: z.number().int().positive(),
        status: z.string().refine(isJobStatus, { message: "not a GitLab job status" }),
        started_at: timestamp,
        finished_at: hint,
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
  if (queuedSeconds === null) return null;
  if (status === "pending") return Math.round(receivedAtMs - queuedSeconds * 1000);
  if (startedAtMs !== null) return Math.round(startedAtMs - queuedSeconds * 1000);
  return null;
}

/**
 * The checks of one job's fields, each refusal counted and logged with the job's id: a field
 * outside what is plausible becomes unknown, the rest of the job is kept.
 */
export class JobFields extends FieldChecks {
  constructor(
    private readonly source: RejectionSource,
    private readonly rejections: Rejections,
    private readonly jobId: number,
    receivedAtMs: number,
  ) {
    super(receivedAtMs, (field, reason, value) => this.refuse(field, reason, value));
  }

  refuse(field: string, reason: string, value: unknown): void {
    this.rejections.reject(this.source, reason, { jobId: this.jobId, field, value: preview(value) });
  }

  /** A GitLab timestamp (a string, see `parseGitLabTime`) as Unix ms, when plausible. */
  time(field: string, value: unknown): number | null {
    if (value === null || value === undefined || value === "") return null;
    if (typeof value !== "string") {
      this.refuse(field, "invalid_field", value);
      return null;
    }
    return this.timestamp(field, parseGitLabTime(value) ?? Number.NaN, value);
  }

  /** A hint id: a positive integer, else unknown. */
  id(field: string, value: unknown): number | null {
    if (value === null || value === undefined) return null;
    if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
    this.refuse(field, "invalid_field", value);
    return null;
  }
}

/** What of a refused value a log line shows: enough to recognise it, never a whole payload. */
function preview(value: unknown): string {
  const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

/** The fields of one job, as the REST API, a Job Hook and a Pipeline Hook each name them. */
export interface JobFieldValues {
  readonly id: number;
  readonly projectId: number;
  readonly status: JobStatus;
  /** The job's own tags; null when the source does not carry them (hooks carry the runner's). */
  readonly tags: string | null;
  readonly createdAt?: unknown;
  readonly startedAt: unknown;
  readonly finishedAt: unknown;
  readonly pipelineId: unknown;
  readonly queuedSeconds: number | null | undefined;
  readonly durationSeconds: number | null | undefined;
  readonly failureReason: string | null | undefined;
  readonly runner: { description?: string | null | undefined } | null | undefined;
}

export function observe(fields: JobFieldValues, checks: JobFields, receivedAtMs: number): JobObservation {
  const { status } = fields;
  const startedAtMs = checks.time("started_at", fields.startedAt);
  const queuedSeconds = checks.duration("queued_duration", fields.queuedSeconds);
  const queuedAtMs = queuedAt(status, queuedSeconds, startedAtMs, receivedAtMs) ?? (status === "pending" ? checks.time("created_at", fields.createdAt) : null);
  return {
    id: fields.id,
    projectId: fields.projectId,
    status,
    tags: fields.tags,
    runner: fields.runner?.description ?? "",
    failureReason: failureReasonFor(status, fields.failureReason),
    queuedDurationSeconds: queuedSeconds,
    durationSeconds: checks.duration("duration", fields.durationSeconds),
    queuedAtMs,
    startedAtMs,
    finishedAtMs: checks.time("finished_at", fields.finishedAt),
    pipelineId: checks.id("pipeline_id", fields.pipelineId),
  };
}

/**
 * Null when GitLab reports a status this exporter does not know (a newer GitLab); the job is
 * skipped. Implausible fields are refused one by one through `rejections` (source `gitlab_api`).
 */
export function observeRestJob(job: RestJob, projectId: number, receivedAtMs: number, rejections: Rejections = ignoreRejections): JobObservation | null {
  if (!isJobStatus(job.status)) return null;
  const pipeline = job.pipeline;
  const pipelineId = pipeline !== null && typeof pipeline === "object" && "id" in pipeline ? pipeline.id : null;
  return observe(
    {
      id: job.id,
      projectId,
      status: job.status,
      tags: tagsLabel(job.tag_list),
      createdAt: job.created_at,
      startedAt: job.started_at,
      finishedAt: job.finished_at,
      pipelineId,
      queuedSeconds: job.queued_duration,
      durationSeconds: job.duration,
      failureReason: job.failure_reason,
      runner: job.runner,
    },
    new JobFields("gitlab_api", rejections, job.id, receivedAtMs),
    receivedAtMs,
  );
}

/** What a Job Hook says about its job; its tags are unknown (hooks carry the runner's tags, not the job's). */
export function observeJobHook(hook: JobHook, receivedAtMs: number, rejections: Rejections = ignoreRejections): JobObservation {
  return observe(
    {
      id: hook.build_id,
      projectId: hook.project_id,
      status: hook.build_status as JobStatus,
      tags: null,
      startedAt: hook.build_started_at,
      finishedAt: hook.build_finished_at,
      pipelineId: hook.pipeline_id,
      queuedSeconds: hook.build_queued_duration,
      durationSeconds: hook.build_duration,
      failureReason: hook.build_failure_reason,
      runner: hook.runner,
    },
    new JobFields("gitlab_webhook", rejections, hook.build_id, receivedAtMs),
    receivedAtMs,
  );
}

export function observePipelineHook(hook: PipelineHook, receivedAtMs: number, rejections: Rejections = ignoreRejections): JobObservation[] {
  return hook.builds.map((build) =>
    observe(
      {
        id: build.id,
        projectId: hook.project.id,
        status: build.status as JobStatus,
        tags: null,
        startedAt: build.started_at,
        finishedAt: build.finished_at,
        pipelineId: hook.object_attributes.id,
        queuedSeconds: build.queued_duration,
        durationSeconds: build.duration,
        failureReason: build.failure_reason,
        runner: build.runner,
      },
      new JobFields("gitlab_webhook", rejections, build.id, receivedAtMs),
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
