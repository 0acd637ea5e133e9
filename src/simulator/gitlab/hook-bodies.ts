import { iso, isoSeconds, queuedSeconds, runSeconds, utc } from "./durations.js";
import type { SimJob, SimPipeline, SimProject } from "./model.js";
import { fakeSha } from "./sha.js";
import { hasModernJobHook } from "./profile.js";
import type { GitLabWorld } from "./world.js";

/**
 * Webhook bodies shaped like the documented payloads (doc/user/project/integrations/
 * webhook_events.md, "Job events" and "Pipeline events"), key order included. A body is built
 * when the change happens, so it shows the state of that moment however late it is delivered.
 */

const hookUser = { id: 1, name: "Developer", username: "developer", avatar_url: null, email: "developer@example.com" };

function hookProject(world: GitLabWorld, project: SimProject): Record<string, unknown> {
  const host = new URL(world.baseUrl).host;
  return {
    id: project.id,
    name: project.name,
    description: null,
    web_url: project.webUrl,
    avatar_url: null,
    git_ssh_url: `git@${host}:${project.pathWithNamespace}.git`,
    git_http_url: `${project.webUrl}.git`,
    namespace: world.group(project.namespaceFullPath)?.name ?? project.namespaceFullPath,
    visibility_level: 0,
    path_with_namespace: project.pathWithNamespace,
    default_branch: "main",
  };
}

function pipelineSeconds(pipeline: SimPipeline | undefined): number | null {
  if (!pipeline || pipeline.startedAt === null || pipeline.finishedAt === null) return null;
  return Math.round((pipeline.finishedAt - pipeline.startedAt) / 1000);
}

/**
 * The Job Hook as `Gitlab::DataBuilder::Build` builds it for the world's profile. Before 16.3 it
 * had no `project` object and no `*_iso` times: only `project_id`, `project_name` (the project's
 * `full_name`, "Namespace / Name", not its path) and `"YYYY-MM-DD HH:MM:SS UTC"` times.
 */
export function jobHookBody(world: GitLabWorld, job: SimJob): Record<string, unknown> {
  const body = currentJobHookBody(world, job);
  if (hasModernJobHook(world.profile)) return body;
  const project = world.project(job.projectId)!;
  const pipeline = world.pipeline(job.pipelineId);
  const legacy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key.endsWith("_iso") || key === "project") continue;
    legacy[key] = value;
  }
  legacy.build_created_at = utc(job.createdAt);
  legacy.build_started_at = utc(job.startedAt);
  legacy.build_finished_at = utc(job.finishedAt);
  legacy.project_name = project.pathWithNamespace.split("/").join(" / ");
  const commit = { ...(body.commit as Record<string, unknown>) };
  delete commit.started_at_iso;
  delete commit.finished_at_iso;
  legacy.commit = { ...commit, started_at: utc(pipeline?.startedAt ?? null), finished_at: utc(pipeline?.finishedAt ?? null) };
  return legacy;
}

function currentJobHookBody(world: GitLabWorld, job: SimJob): Record<string, unknown> {
  const project = world.project(job.projectId);
  if (!project) throw new Error(`job ${job.id}: project ${job.projectId} is gone`);
  const pipeline = world.pipeline(job.pipelineId);
  const now = world.now();
  const sha = pipeline?.sha ?? fakeSha(job.pipelineId);
  const host = new URL(world.baseUrl).host;
  return {
    object_kind: "build",
    ref: job.ref,
    tag: false,
    before_sha: sha,
    sha,
    build_id: job.id,
    build_name: job.name,
    build_stage: job.stage,
    build_status: job.status,
    build_created_at: iso(job.createdAt),
    build_created_at_iso: isoSeconds(job.createdAt),
    build_started_at: iso(job.startedAt),
    build_started_at_iso: isoSeconds(job.startedAt),
    build_finished_at: iso(job.finishedAt),
    build_finished_at_iso: isoSeconds(job.finishedAt),
    build_duration: runSeconds(job, now),
    build_queued_duration: queuedSeconds(job, now),
    build_allow_failure: job.allowFailure,
    // Set unconditionally by GitLab's data builder; the enum maps a NULL column to unknown_failure.
    build_failure_reason: job.status === "failed" && job.failureReason ? job.failureReason : "unknown_failure",
    retries_count: job.retriesCount,
    pipeline_id: job.pipelineId,
    project_id: project.id,
    project_name: project.pathWithNamespace,
    user: { id: hookUser.id, name: hookUser.name, email: hookUser.email, avatar_url: hookUser.avatar_url },
    commit: {
      // The pipeline's id, not the commit's (documented quirk).
      id: job.pipelineId,
      name: null,
      sha,
      message: "Simulated change\n",
      author_name: hookUser.name,
      author_email: hookUser.email,
      status: pipeline?.status ?? "created",
      duration: pipelineSeconds(pipeline),
      started_at: iso(pipeline?.startedAt ?? null),
      started_at_iso: isoSeconds(pipeline?.startedAt ?? null),
      finished_at: iso(pipeline?.finishedAt ?? null),
      finished_at_iso: isoSeconds(pipeline?.finishedAt ?? null),
    },
    repository: {
      name: project.name,
      description: null,
      homepage: project.webUrl,
      git_ssh_url: `git@${host}:${project.pathWithNamespace}.git`,
      git_http_url: `${project.webUrl}.git`,
      visibility_level: 0,
    },
    project: hookProject(world, project),
    runner: job.runner
      ? {
          active: true,
          runner_type: "instance_type",
          is_shared: true,
          id: job.runner.id,
          description: job.runner.description,
          tags: [...(job.runner.tags ?? [])],
        }
      : null,
    environment: null,
  };
}

export function pipelineHookBody(world: GitLabWorld, pipeline: SimPipeline, jobs: readonly SimJob[]): Record<string, unknown> {
  const project = world.project(pipeline.projectId);
  if (!project) throw new Error(`pipeline ${pipeline.id}: project ${pipeline.projectId} is gone`);
  const now = world.now();
  // GitLab's data builder lists `pipeline.builds.latest`: retried jobs are left out.
  const latest = jobs.filter((j) => !j.retried);
  const queued = pipeline.startedAt === null ? null : Math.round((pipeline.startedAt - pipeline.createdAt) / 1000) || null;
  return {
    object_kind: "pipeline",
    object_attributes: {
      id: pipeline.id,
      iid: pipeline.iid,
      name: null,
      ref: pipeline.ref,
      tag: false,
      sha: pipeline.sha,
      before_sha: pipeline.sha,
      source: pipeline.source,
      status: pipeline.status,
      detailed_status: pipeline.status,
      stages: [...new Set(latest.map((j) => j.stage))],
      created_at: utc(pipeline.createdAt),
      finished_at: utc(pipeline.finishedAt),
      duration: pipelineSeconds(pipeline),
      queued_duration: queued,
      variables: [],
      url: `${project.webUrl}/-/pipelines/${pipeline.id}`,
    },
    merge_request: null,
    user: hookUser,
    project: hookProject(world, project),
    commit: {
      id: pipeline.sha,
      message: "Simulated change\n",
      title: "Simulated change",
      timestamp: isoSeconds(pipeline.createdAt),
      url: `${project.webUrl}/-/commit/${pipeline.sha}`,
      author: { name: hookUser.name, email: hookUser.email },
    },
    builds: latest.map((job) => ({
      id: job.id,
      stage: job.stage,
      name: job.name,
      status: job.status,
      created_at: utc(job.createdAt),
      started_at: utc(job.startedAt),
      finished_at: utc(job.finishedAt),
      duration: runSeconds(job, now),
      queued_duration: queuedSeconds(job, now),
      failure_reason: job.status === "failed" ? job.failureReason : null,
      when: job.status === "manual" ? "manual" : "on_success",
      manual: job.status === "manual",
      allow_failure: job.allowFailure,
      user: hookUser,
      runner: job.runner
        ? {
            id: job.runner.id,
            description: job.runner.description,
            active: true,
            runner_type: "instance_type",
            is_shared: true,
            tags: [...(job.runner.tags ?? [])],
          }
        : null,
      artifacts_file: { filename: null, size: null },
      environment: null,
    })),
  };
}
