import { describe, expect, it } from "vitest";
import type { BoundedMap } from "../../../../src/lib/bounded-map.js";
import { ignoreRejections, type Rejections } from "../../../../src/lib/rejections.js";
import { GitLabWebhookSource, idempotencyDigest, type UnplacedJob } from "../../../../src/sources/gitlab/webhook-source.js";
import type { JobFinished, PipelineFinished } from "../../../../src/domain/events.js";
import { JobStore } from "../../../../src/state/jobs.js";
import { PipelineStore } from "../../../../src/state/pipelines.js";
import { ProjectRegistry } from "../../../../src/state/projects.js";
import jobHook from "../../../fixtures/gitlab/job-hook.json" with { type: "json" };
import pipelineHook from "../../../fixtures/gitlab/pipeline-hook.json" with { type: "json" };

/** The documented pipeline hook's builds finished on 2016-08-12 around 15:26 UTC. */
const PIPELINE_BUILDS_FINISHED = Date.parse("2016-08-12T15:26:29Z");

function source(countFinishedSinceMs: number, rejections: Rejections = ignoreRejections) {
  const finished: JobFinished[] = [];
  const activity: Array<{ projectId: number; pollSoon: boolean; unplaced: readonly UnplacedJob[] }> = [];
  const jobs = new JobStore({ countFinishedSinceMs });
  jobs.onFinished.add((e) => finished.push(e));
  const pipelinesFinished: PipelineFinished[] = [];
  const pipelines = new PipelineStore({ countFinishedSinceMs });
  pipelines.onFinished.add((e) => pipelinesFinished.push(e));
  const projects = new ProjectRegistry();
  projects.replaceAll([
    { id: 380, path: "gitlab-org/gitlab-test" },
    { id: pipelineHook.project.id, path: pipelineHook.project.path_with_namespace },
  ]);
  const hooks = new GitLabWebhookSource(jobs, pipelines, projects, {
      keepHot: (projectId) => activity.push({ projectId, pollSoon: false, unplaced: [] }),
      placeJobsSoon: (projectId, unplaced) => activity.push({ projectId, pollSoon: true, unplaced }),
    }, rejections);
  return { hooks, finished, pipelinesFinished, activity };
}

describe("GitLabWebhookSource", () => {
  it("does not count builds a Pipeline Hook lists that finished before the exporter started", () => {
    const { hooks, finished } = source(PIPELINE_BUILDS_FINISHED + 60_000);
    expect(hooks.receive("Pipeline Hook", pipelineHook, undefined).status).toBe(200);
    expect(finished).toEqual([]);
  });

  it("counts the builds of a Pipeline Hook that finished since the start, once", () => {
    const { hooks, finished } = source(PIPELINE_BUILDS_FINISHED - 3600_000);
    hooks.receive("Pipeline Hook", pipelineHook, undefined);
    hooks.receive("Pipeline Hook", pipelineHook, undefined);
    expect(finished.map((f) => f.status).sort()).toEqual(["failed", "success", "success"]);
  });

  it("counts a Pipeline Hook's pipeline at its final status by its finished_at, once, and leaves child pipelines out", () => {
    const { hooks, pipelinesFinished } = source(PIPELINE_BUILDS_FINISHED - 3600_000);
    const running = { ...pipelineHook, object_attributes: { ...pipelineHook.object_attributes, status: "running", finished_at: null } };
    hooks.receive("Pipeline Hook", running, undefined);
    expect(pipelinesFinished).toEqual([]);
    expect(hooks.receive("Pipeline Hook", pipelineHook, undefined).outcome).toBe("accepted");
    hooks.receive("Pipeline Hook", pipelineHook, undefined);
    const child = { ...pipelineHook, object_attributes: { ...pipelineHook.object_attributes, id: 32, source: "parent_pipeline" } };
    hooks.receive("Pipeline Hook", child, undefined);
    // A skipped pipeline has no finished_at: the hook reports the change itself.
    const skipped = { ...pipelineHook, builds: [], object_attributes: { ...pipelineHook.object_attributes, id: 33, status: "skipped", finished_at: null } };
    expect(hooks.receive("Pipeline Hook", skipped, undefined).outcome).toBe("accepted");
    expect(pipelinesFinished).toEqual([
      { pipelineId: 31, projectId: pipelineHook.project.id, status: "success" },
      { pipelineId: 33, projectId: pipelineHook.project.id, status: "skipped" },
    ]);
  });

  it("does not count a Pipeline Hook's pipeline that finished before the exporter started", () => {
    const { hooks, pipelinesFinished } = source(PIPELINE_BUILDS_FINISHED + 1_000);
    hooks.receive("Pipeline Hook", pipelineHook, undefined);
    expect(pipelinesFinished).toEqual([]);
  });

  it("counts a Job Hook's finish by its build_finished_at, and one without a time as the news it is", () => {
    const start = Date.parse("2021-02-23T02:42:00Z");
    const { hooks, finished } = source(start);
    const done = { ...jobHook, build_status: "failed", build_failure_reason: "runner_system_failure" };
    hooks.receive("Job Hook", { ...done, build_id: 1, build_finished_at: "2021-02-23T02:41:59.999Z" }, undefined);
    hooks.receive("Job Hook", { ...done, build_id: 2, build_finished_at: "2021-02-23 02:42:30 UTC" }, undefined);
    hooks.receive("Job Hook", { ...done, build_id: 3, build_finished_at: null }, undefined);
    expect(finished).toHaveLength(2);
  });

  it("counts and logs each refused hook field and each refused payload, and still counts the job", () => {
    const refused: Array<[string, string, unknown]> = [];
    const { hooks, finished } = source(0, { reject: (where, reason, detail) => refused.push([where, reason, detail?.field]) });
    const done = { ...jobHook, build_status: "success", build_id: 5, build_finished_at: "9999-12-31T00:00:00Z", build_duration: 1e308 };
    expect(hooks.receive("Job Hook", done, undefined).outcome).toBe("accepted");
    expect(finished).toEqual([expect.objectContaining({ jobId: 5, durationSeconds: null })]);
    expect(hooks.receive("Job Hook", { ...jobHook, build_id: "x" }, undefined).outcome).toBe("invalid");
    expect(refused).toEqual([
      ["gitlab_webhook", "implausible_duration", "duration"],
      ["gitlab_webhook", "future_timestamp", "finished_at"],
      ["gitlab_webhook", "schema", undefined],
    ]);
  });

  it("names the pipeline of a job it cannot place, for the poll it asks for", () => {
    const { hooks, activity } = source(0);
    hooks.receive("Job Hook", { ...jobHook, build_id: 77, build_status: "pending" }, undefined);
    expect(activity).toEqual([{ projectId: 380, pollSoon: true, unplaced: [{ jobId: 77, pipelineId: jobHook.pipeline_id }] }]);
  });

  it("remembers idempotency keys as fixed-size digests, however long the key", () => {
    const { hooks } = source(0);
    const long = "k".repeat(16 * 1024);
    expect(idempotencyDigest(long)).toHaveLength(22);
    expect(idempotencyDigest(long)).not.toBe(idempotencyDigest(`${long}!`));
    const pending = { ...jobHook, build_status: "pending" };
    expect(hooks.receive("Job Hook", pending, long).outcome).toBe("accepted");
    expect(hooks.receive("Job Hook", pending, long).outcome).toBe("duplicate");
    const stored = [...(hooks as unknown as { seenKeys: BoundedMap<string, true> }).seenKeys.keys()];
    expect(stored).toEqual([idempotencyDigest(long)]);
    for (let i = 0; i < 10_050; i++) hooks.receive("Job Hook", pending, `${long}${i}`);
    expect(hooks.rememberedKeys).toBe(10_000);
    for (const key of (hooks as unknown as { seenKeys: BoundedMap<string, true> }).seenKeys.keys()) expect(key.length).toBe(22);
  });
});
