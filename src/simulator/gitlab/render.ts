import { iso, queuedSeconds, runSeconds } from "./durations.js";
import type { SimJob, SimPipeline, SimProject } from "./model.js";
import { fakeSha } from "./sha.js";
import type { GitLabWorld } from "./world.js";

/**
 * JSON entities as GitLab's REST API renders them, key order included
 * (doc/api/jobs.md "List project jobs", doc/api/groups.md "List projects",
 * doc/api/pipelines.md "List project pipelines").
 */

const COMMIT_MESSAGE = "Simulated change";

export function renderUser(world: GitLabWorld): Record<string, unknown> {
  return {
    id: 1,
    name: "Developer",
    username: "developer",
    state: "active",
    avatar_url: null,
    web_url: `${world.baseUrl}/developer`,
    created_at: "2024-01-01T00:00:00.000Z",
    bio: null,
    location: null,
    public_email: "",
    skype: "",
    linkedin: "",
    twitter: "",
    website_url: "",
    organization: "",
  };
}

export function renderJob(world: GitLabWorld, job: SimJob, now: number): Record<string, unknown> {
  const project = world.project(job.projectId);
  const pipeline = world.pipeline(job.pipelineId);
  const sha = pipeline?.sha ?? fakeSha(job.pipelineId);
  const webUrl = project?.webUrl ?? `${world.baseUrl}/-/projects/${job.projectId}`;
  const entity: Record<string, unknown> = {
    commit: {
      author_email: "developer@example.com",
      author_name: "Developer",
      created_at: iso(pipeline?.createdAt ?? job.createdAt),
      id: sha,
      message: COMMIT_MESSAGE,
      short_id: sha.slice(0, 8),
      title: COMMIT_MESSAGE,
    },
    coverage: null,
    archived: false,
    allow_failure: job.allowFailure,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    erased_at: null,
    duration: runSeconds(job, now),
    queued_duration: queuedSeconds(job, now),
    artifacts_expire_at: null,
    tag_list: [...job.tags],
    id: job.id,
    name: job.name,
    pipeline: { id: job.pipelineId, project_id: job.projectId, ref: pipeline?.ref ?? job.ref, sha, status: pipeline?.status ?? "running" },
    ref: job.ref,
    artifacts: [],
    runner: job.runner
      ? {
          id: job.runner.id,
          description: job.runner.description,
          ip_address: null,
          active: true,
          paused: false,
          is_shared: true,
          runner_type: "instance_type",
          name: "gitlab-runner",
          online: true,
          status: "online",
        }
      : null,
    runner_manager: job.runner
      ? {
          id: job.runner.id,
          system_id: `s_${job.runner.id.toString(16).padStart(12, "0")}`,
          version: "17.6.0",
          revision: "374d34fd",
          platform: "linux",
          architecture: "amd64",
          created_at: "2024-01-01T00:00:00.000Z",
          contacted_at: iso(now),
          ip_address: "127.0.0.1",
          status: "online",
        }
      : null,
    stage: job.stage,
    status: job.status,
    tag: false,
    web_url: `${webUrl}/-/jobs/${job.id}`,
    project: { ci_job_token_scope_enabled: false },
    user: renderUser(world),
  };
  // Ci::JobBasic exposes failure_reason only `if: ->(job) { job.failed? }`: the key is absent otherwise.
  if (job.status === "failed") entity.failure_reason = job.failureReason;
  return entity;
}

export function renderProject(world: GitLabWorld, project: SimProject): Record<string, unknown> {
  const group = world.group(project.namespaceFullPath);
  const namespaceName = group?.name ?? project.namespaceFullPath.split("/").pop()!;
  const host = new URL(world.baseUrl).host;
  return {
    id: project.id,
    description: null,
    default_branch: "main",
    tag_list: [],
    topics: [],
    archived: project.archived,
    visibility: project.visibility,
    ssh_url_to_repo: `git@${host}:${project.pathWithNamespace}.git`,
    http_url_to_repo: `${project.webUrl}.git`,
    web_url: project.webUrl,
    name: project.name,
    name_with_namespace: `${project.namespaceFullPath.split("/").join(" / ")} / ${project.name}`,
    path: project.path,
    path_with_namespace: project.pathWithNamespace,
    issues_enabled: true,
    merge_requests_enabled: true,
    wiki_enabled: true,
    jobs_enabled: true,
    snippets_enabled: true,
    created_at: iso(project.createdAt),
    last_activity_at: iso(project.lastActivityAt),
    shared_runners_enabled: true,
    creator_id: 1,
    namespace: {
      id: project.namespaceId,
      name: namespaceName,
      path: group?.path ?? namespaceName,
      kind: "group",
      full_path: project.namespaceFullPath,
      parent_id: group?.parentId ?? null,
      avatar_url: null,
      web_url: `${world.baseUrl}/groups/${project.namespaceFullPath}`,
    },
    avatar_url: null,
    star_count: 0,
    forks_count: 0,
    open_issues_count: 0,
    public_jobs: true,
    shared_with_groups: [],
    request_access_enabled: false,
  };
}

/** `API::Entities::Ci::PipelineBasic`, what `GET /projects/:id/pipelines` lists. */
export function renderPipeline(world: GitLabWorld, pipeline: SimPipeline): Record<string, unknown> {
  const project = world.project(pipeline.projectId);
  const webUrl = project?.webUrl ?? `${world.baseUrl}/-/projects/${pipeline.projectId}`;
  return {
    id: pipeline.id,
    iid: pipeline.iid,
    project_id: pipeline.projectId,
    sha: pipeline.sha,
    ref: pipeline.ref,
    status: pipeline.status,
    source: pipeline.source,
    created_at: iso(pipeline.createdAt),
    updated_at: iso(pipeline.updatedAt),
    web_url: `${webUrl}/-/pipelines/${pipeline.id}`,
  };
}
