import { randomUUID } from "node:crypto";
import { fakeSha, type GitLabWorld, type SimJob, type SimPipeline } from "./world.js";

export interface HookTarget {
  readonly url: string;
  readonly token?: string;
  readonly events: { readonly job?: boolean; readonly pipeline?: boolean };
  readonly projectIds?: readonly number[];
}

interface Delivery {
  readonly url: string;
  readonly event: "Job Hook" | "Pipeline Hook";
  readonly body: string;
  readonly headers: Record<string, string>;
}

/**
 * Sends GitLab's Job Hook and Pipeline Hook deliveries (doc/user/project/integrations/
 * webhook_events.md) for every change in the world, in order, with GitLab's delivery headers.
 */
export class WebhookSender {
  /** Share of deliveries sent a second time with the same Idempotency-Key, as GitLab retries do. */
  duplicateRatio = 0;
  deliveryDelayMs = 0;
  /** While paused, deliveries are dropped (a webhook outage). */
  paused = false;
  readonly stats = { sent: 0, failed: 0, statuses: new Map<number, number>() };
  private readonly hooks: Array<HookTarget & { readonly uuid: string }> = [];
  private readonly queue: Delivery[] = [];
  private draining: Promise<void> | undefined;
  private duplicateCursor = 0;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly world: GitLabWorld) {
    this.unsubscribe.push(world.onJobChange((job) => this.jobChanged(job)));
    this.unsubscribe.push(world.onPipelineChange((pipeline, jobs) => this.pipelineChanged(pipeline, jobs)));
  }

  addHook(hook: HookTarget): void {
    this.hooks.push({ ...hook, uuid: randomUUID() });
  }

  /** Resolves when every queued delivery was sent. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  detach(): void {
    for (const off of this.unsubscribe) off();
  }

  private jobChanged(job: SimJob): void {
    for (const hook of this.hooks) {
      if (!hook.events.job || (hook.projectIds && !hook.projectIds.includes(job.projectId))) continue;
      this.enqueue(hook, "Job Hook", jobHookBody(this.world, job));
    }
  }

  private pipelineChanged(pipeline: SimPipeline, jobs: readonly SimJob[]): void {
    for (const hook of this.hooks) {
      if (!hook.events.pipeline || (hook.projectIds && !hook.projectIds.includes(pipeline.projectId))) continue;
      this.enqueue(hook, "Pipeline Hook", pipelineHookBody(this.world, pipeline, jobs));
    }
  }

  private enqueue(hook: HookTarget & { uuid: string }, event: Delivery["event"], body: unknown): void {
    if (this.paused) return;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "GitLab/17.6.0",
      "x-gitlab-event": event,
      "x-gitlab-instance": this.world.baseUrl,
      "x-gitlab-webhook-uuid": hook.uuid,
      "x-gitlab-event-uuid": randomUUID(),
      "idempotency-key": randomUUID(),
    };
    if (hook.token !== undefined) headers["x-gitlab-token"] = hook.token;
    const delivery = { url: hook.url, event, body: JSON.stringify(body), headers };
    this.queue.push(delivery);
    // Deterministic duplicates: every n-th delivery is sent twice.
    if (this.duplicateRatio > 0) {
      this.duplicateCursor += this.duplicateRatio;
      if (this.duplicateCursor >= 1) {
        this.duplicateCursor -= 1;
        this.queue.push(delivery);
      }
    }
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const delivery = this.queue.shift()!;
      if (this.deliveryDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.deliveryDelayMs));
      try {
        const status = await deliver(delivery.url, delivery.body, delivery.headers);
        this.stats.sent++;
        this.stats.statuses.set(status, (this.stats.statuses.get(status) ?? 0) + 1);
      } catch {
        this.stats.failed++;
      }
    }
  }
}

/** Posts one delivery; resolves with the HTTP status. */
export async function deliver(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { method: "POST", body, headers });
  await response.arrayBuffer();
  return response.status;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const isoSeconds = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));
/** Pipeline hooks use GitLab's `2016-08-12 15:23:28 UTC` format. */
const utc = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC"));

function durations(job: SimJob, now: number) {
  const queued = job.queuedAt === null ? null : ((job.startedAt ?? now) - job.queuedAt) / 1000;
  const duration = job.startedAt === null ? null : ((job.finishedAt ?? now) - job.startedAt) / 1000;
  return { queued, duration };
}

export function jobHookBody(world: GitLabWorld, job: SimJob): Record<string, unknown> {
  const project = world.project(job.projectId)!;
  const pipeline = world.pipeline(job.pipelineId);
  const { queued, duration } = durations(job, world.now());
  const sha = pipeline?.sha ?? fakeSha(job.pipelineId);
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
    build_duration: duration,
    build_queued_duration: queued,
    build_allow_failure: job.allowFailure,
    // GitLab's data builder sets this unconditionally; a NULL column reads as unknown_failure.
    build_failure_reason: job.failureReason ?? "unknown_failure",
    retries_count: job.retriesCount,
    pipeline_id: job.pipelineId,
    project_id: project.id,
    project_name: project.pathWithNamespace,
    user: { id: 1, name: "Developer", email: "dev@example.com", avatar_url: null },
    commit: {
      id: job.pipelineId,
      name: null,
      sha,
      message: "Simulated change\n",
      author_name: "Developer",
      author_email: "dev@example.com",
      status: pipeline?.status ?? "running",
      duration: null,
      started_at: null,
      started_at_iso: null,
      finished_at: null,
      finished_at_iso: null,
    },
    repository: {
      name: project.name,
      description: null,
      homepage: project.webUrl,
      git_ssh_url: `git@gitlab.example.com:${project.pathWithNamespace}.git`,
      git_http_url: `${project.webUrl}.git`,
      visibility_level: 0,
    },
    project: {
      id: project.id,
      name: project.name,
      description: null,
      web_url: project.webUrl,
      avatar_url: null,
      git_ssh_url: `git@gitlab.example.com:${project.pathWithNamespace}.git`,
      git_http_url: `${project.webUrl}.git`,
      namespace: project.namespaceFullPath.split("/").pop(),
      visibility_level: 0,
      path_with_namespace: project.pathWithNamespace,
      default_branch: "main",
    },
    runner: job.runner
      ? { active: true, runner_type: "instance_type", is_shared: true, id: job.runner.id, description: job.runner.description, tags: [...(job.runner.tags ?? [])] }
      : null,
    environment: null,
  };
}

export function pipelineHookBody(world: GitLabWorld, pipeline: SimPipeline, jobs: readonly SimJob[]): Record<string, unknown> {
  const project = world.project(pipeline.projectId)!;
  const now = world.now();
  const finished = ["success", "failed", "canceled", "skipped"].includes(pipeline.status);
  const lastFinish = Math.max(0, ...jobs.map((j) => j.finishedAt ?? 0));
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
      stages: [...new Set(jobs.map((j) => j.stage))],
      created_at: utc(pipeline.createdAt),
      finished_at: finished ? utc(lastFinish || now) : null,
      duration: null,
      queued_duration: null,
      variables: [],
      url: `${project.webUrl}/-/pipelines/${pipeline.id}`,
    },
    merge_request: null,
    user: { id: 1, name: "Developer", username: "developer", avatar_url: null, email: "dev@example.com" },
    project: {
      id: project.id,
      name: project.name,
      description: null,
      web_url: project.webUrl,
      avatar_url: null,
      git_ssh_url: `git@gitlab.example.com:${project.pathWithNamespace}.git`,
      git_http_url: `${project.webUrl}.git`,
      namespace: project.namespaceFullPath.split("/").pop(),
      visibility_level: 0,
      path_with_namespace: project.pathWithNamespace,
      default_branch: "main",
    },
    commit: {
      id: pipeline.sha,
      message: "Simulated change",
      title: "Simulated change",
      timestamp: iso(pipeline.createdAt),
      url: `${project.webUrl}/-/commit/${pipeline.sha}`,
      author: { name: "Developer", email: "dev@example.com" },
    },
    builds: jobs.map((job) => {
      const { queued, duration } = durations(job, now);
      return {
        id: job.id,
        stage: job.stage,
        name: job.name,
        status: job.status,
        created_at: utc(job.createdAt),
        started_at: utc(job.startedAt),
        finished_at: utc(job.finishedAt),
        duration,
        queued_duration: queued,
        failure_reason: job.status === "failed" ? job.failureReason : null,
        when: "on_success",
        manual: false,
        allow_failure: job.allowFailure,
        user: { id: 1, name: "Developer", username: "developer", avatar_url: null, email: "dev@example.com" },
        runner: job.runner
          ? { id: job.runner.id, description: job.runner.description, runner_type: "instance_type", active: true, is_shared: true, tags: [...(job.runner.tags ?? [])] }
          : null,
        artifacts_file: { filename: null, size: null },
        environment: null,
      };
    }),
  };
}
