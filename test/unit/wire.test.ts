import { describe, expect, it } from "vitest";
import { jobHookSchema, observeJobHook, observePipelineHook, observeRestJob, parseGitLabTime, pipelineHookSchema, restJobSchema } from "../../src/sources/gitlab/wire.js";
import { routeTemplate, retryAfterMs } from "../../src/sources/gitlab/transport.js";
import { tagsLabel } from "../../src/domain/job.js";
import jobsList from "../fixtures/gitlab/jobs-list.json" with { type: "json" };
import jobHook from "../fixtures/gitlab/job-hook.json" with { type: "json" };
import pipelineHook from "../fixtures/gitlab/pipeline-hook.json" with { type: "json" };

describe("GitLab wire formats", () => {
  it("reads the documented jobs list", () => {
    const jobs = jobsList.map((j) => restJobSchema.parse(j));
    const first = observeRestJob(jobs[0]!, 1, Date.parse("2016-01-11T10:14:00Z"))!;
    expect(first).toMatchObject({ id: 7, status: "failed", failureReason: "script_failure", tags: "docker runner,ubuntu18", durationSeconds: 0.173 });
    expect(first.queuedDurationSeconds).toBe(0.01);
  });

  it("anchors a pending job's queue entry at the moment of the answer", () => {
    const job = restJobSchema.parse({ id: 9, status: "pending", tag_list: ["b", "a"], queued_duration: 12.5, created_at: "2024-01-01T00:00:00Z" });
    const observation = observeRestJob(job, 3, 1_000_000)!;
    expect(observation.queuedAtMs).toBe(1_000_000 - 12_500);
    expect(observation.tags).toBe("a,b");
    expect(observation.failureReason).toBe("");
  });

  it("reads the documented job hook, whose tags are unknown and failure reason only kept for failed jobs", () => {
    const hook = jobHookSchema.parse(jobHook);
    const observation = observeJobHook(hook, 0);
    expect(observation).toMatchObject({ id: 1977, projectId: 380, status: "created", tags: null, failureReason: "", runner: "shared-runners-manager-6.gitlab.com" });
    const failed = observeJobHook(jobHookSchema.parse({ ...jobHook, build_status: "failed" }), 0);
    expect(failed.failureReason).toBe("script_failure");
  });

  it("reads the documented pipeline hook builds", () => {
    const hook = pipelineHookSchema.parse(pipelineHook);
    const observations = observePipelineHook(hook, 0);
    expect(observations.length).toBe(pipelineHook.builds.length);
    const failed = observations.find((o) => o.status === "failed");
    expect(failed?.failureReason).toBe("script_failure");
    expect(observations.filter((o) => o.status !== "failed").every((o) => o.failureReason === "")).toBe(true);
  });

  it("reads when a job finished and its pipeline, from REST, job hooks and pipeline hooks", () => {
    const rest = observeRestJob(restJobSchema.parse(jobsList[0]), 1, 0)!;
    expect(rest.finishedAtMs).toBe(Date.parse(jobsList[0]!.finished_at!));
    expect(rest.pipelineId).toBe(jobsList[0]!.pipeline.id);
    const hook = observeJobHook(jobHookSchema.parse({ ...jobHook, build_status: "success", build_finished_at: "2021-02-23T02:43:12.001Z" }), 0);
    expect(hook).toMatchObject({ finishedAtMs: Date.parse("2021-02-23T02:43:12.001Z"), pipelineId: 2366 });
    const builds = observePipelineHook(pipelineHookSchema.parse(pipelineHook), 0);
    expect(builds.find((b) => b.status === "failed")).toMatchObject({ finishedAtMs: Date.parse("2016-08-12T15:26:29Z"), pipelineId: pipelineHook.object_attributes.id });
    // Hints of the wrong type are taken as absent, not as a reason to refuse the delivery.
    expect(observeJobHook(jobHookSchema.parse({ ...jobHook, build_finished_at: 7, pipeline_id: "x" }), 0)).toMatchObject({ finishedAtMs: null, pipelineId: null });
  });

  it("parses both timestamp styles", () => {
    expect(parseGitLabTime("2016-08-12 15:23:28 UTC")).toBe(Date.parse("2016-08-12T15:23:28Z"));
    expect(parseGitLabTime("2021-02-23T02:41:37.886Z")).toBe(Date.parse("2021-02-23T02:41:37.886Z"));
    expect(parseGitLabTime(null)).toBeNull();
  });

  it("rejects a hook of the wrong shape with a readable reason", () => {
    const result = jobHookSchema.safeParse({ ...jobHook, build_id: "x" });
    expect(result.success).toBe(false);
  });

  it("labels endpoints by route template", () => {
    expect(routeTemplate("projects/42/jobs")).toBe("/projects/:id/jobs");
    expect(routeTemplate("projects/acme%2Fapi/jobs/7")).toBe("/projects/:id/jobs/:job_id");
    expect(routeTemplate("groups/acme/projects")).toBe("/groups/:id/projects");
    expect(routeTemplate("projects/acme%2Fapi")).toBe("/projects/:id");
    expect(routeTemplate("projects/42/pipelines")).toBe("/projects/:id/pipelines");
    expect(routeTemplate("projects/42/pipelines/9001/jobs")).toBe("/projects/:id/pipelines/:pipeline_id/jobs");
  });

  it("reads Retry-After as seconds or a date, within bounds", () => {
    expect(retryAfterMs("30", 0)).toBe(30_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 0)).toBe(10_000);
    // No usable wait: the requester backs off on its own (test/unit/transport.test.ts).
    expect(retryAfterMs(undefined, 0)).toBeUndefined();
    expect(retryAfterMs("99999", 0)).toBe(15 * 60_000);
  });

  it("sorts and dedupes tags", () => {
    expect(tagsLabel(["linux", "docker", "linux"])).toBe("docker,linux");
    expect(tagsLabel([])).toBe("");
  });
});
