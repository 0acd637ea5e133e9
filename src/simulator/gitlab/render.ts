import { fakeSha, type GitLabWorld, type SimJob, type SimProject } from "./world.js";

/** JSON entities as GitLab's REST API renders them (doc/api/jobs.md, doc/api/projects.md). */

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const seconds = (ms: number): number => Math.round(ms) / 1000;

export function renderJob(world: GitLabWorld, job: SimJob, now: number): Record<string, unknown> {
  const project = world.project(job.projectId)!;
  const pipeline = world.pipeline(job.pipelineId);
  const queuedDuration =
    job.queuedAt === null ? null : job.startedAt !== null ? seconds(job.startedAt - job.queuedAt) : job.status === "pending" ? seconds(now - job.queuedAt) : null;
  const duration = job.startedAt === null ? null : seconds((job.finishedAt ?? now) - job.startedAt);
  const entity: Record<string, unknown> = {
    commit: {
      author_email: "dev@example.com",
      author_name: "Developer",
      created_at: iso(job.createdAt),
      id: pipeline?.sha ?? fakeSha(job.pipelineId),
      message: "Simulated change",
      short_id: (pipeline?.sha ?? fakeSha(job.pipelineId)).slice(0, 8),
      title: "Simulated change",
    },
    coverage: null,
    archived: false,
    allow_failure: job.allowFailure,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    erased_at: null,
    duration,
    queued_duration: queuedDuration,
    artifacts_file: null,
    artifacts: [],
    artifacts_expire_at: null,
    tag_list: [...job.tags],
    id: job.id,
    name: job.name,
    pipeline: { id: job.pipelineId, project_id: job.projectId, ref: job.ref, sha: pipeline?.sha ?? fakeSha(job.pipelineId), status: pipeline?.status ?? "running" },
    ref: job.ref,
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
          version: "19.3.0",
          revision: "9cbf0074",
          platform: "linux",
          architecture: "amd64",
          created_at: iso(project.createdAt),
          contacted_at: iso(now),
          ip_address: "127.0.0.1",
          status: "online",
        }
      : null,
    stage: job.stage,
    status: job.status,
    tag: false,
    web_url: `${project.webUrl}/-/jobs/${job.id}`,
    project: { ci_job_token_scope_enabled: false },
    user: { id: 1, name: "Developer", username: "developer", state: "active", web_url: `${world.baseUrl}/developer` },
  };
  // GitLab's Ci::JobBasic entity exposes failure_reason only `if: ->(job) { job.failed? }`.
  if (job.status === "failed") entity.failure_reason = job.failureReason;
  return entity;
}

export function renderProject(world: GitLabWorld, project: SimProject): Record<string, unknown> {
  const group = world.group(project.namespaceFullPath);
  const namespaceName = project.namespaceFullPath.split("/").pop()!;
  return {
    id: project.id,
    description: null,
    name: project.name,
    name_with_namespace: `${project.namespaceFullPath.split("/").join(" / ")} / ${project.name}`,
    path: project.path,
    path_with_namespace: project.pathWithNamespace,
    created_at: iso(project.createdAt),
    default_branch: "main",
    tag_list: [],
    topics: [],
    ssh_url_to_repo: `git@gitlab.example.com:${project.pathWithNamespace}.git`,
    http_url_to_repo: `${project.webUrl}.git`,
    web_url: project.webUrl,
    readme_url: `${project.webUrl}/-/blob/main/README.md`,
    avatar_url: null,
    star_count: 0,
    forks_count: 0,
    last_activity_at: iso(project.createdAt),
    namespace: {
      id: project.namespaceId,
      name: namespaceName,
      path: namespaceName,
      kind: "group",
      full_path: project.namespaceFullPath,
      parent_id: group?.parentId ?? null,
    },
    archived: project.archived,
    visibility: "private",
  };
}
