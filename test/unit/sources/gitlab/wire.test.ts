import { describe, expect, it } from "vitest";
import { jobHookSchema, observeJobHook, observePipelineHook, observeRestJob, parseGitLabTime, pipelineHookSchema, restJobSchema } from "../../../../src/sources/gitlab/wire.js";
import { retryAfterMs } from "../../../../src/sources/gitlab/retry-after.js";
import { routeTemplate } from "../../../../src/sources/gitlab/route.js";
import { tagsLabel } from "../../../../src/domain/job.js";
import type { Rejections } from "../../../../src/lib/rejections.js";
import jobsList from "../../../fixtures/gitlab/jobs-list.json" with { type: "json" };
import jobHook from "../../../fixtures/gitlab/job-hook.json" with { type: "json" };
import pipelineHook from "../../../fixtures/gitlab/pipeline-hook.json" with { type: "json" };

/** The exporter's clock in these tests: after every fixture's timestamps. */
const NOW = Date.parse("2026-12-07T12:00:00Z");

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
    const observation = observeJobHook(hook, NOW);
    expect(observation).toMatchObject({ id: 1977, projectId: 380, status: "created", tags: null, failureReason: "", runner: "shared-runners-manager-6.gitlab.com" });
    const failed = observeJobHook(jobHookSchema.parse({ ...jobHook, build_status: "failed" }), NOW);
    expect(failed.failureReason).toBe("script_failure");
  });

  it("reads the documented pipeline hook builds", () => {
    const hook = pipelineHookSchema.parse(pipelineHook);
    const observations = observePipelineHook(hook, NOW);
    expect(observations.length).toBe(pipelineHook.builds.length);
    const failed = observations.find((o) => o.status === "failed");
    expect(failed?.failureReason).toBe("script_failure");
    expect(observations.filter((o) => o.status !== "failed").every((o) => o.failureReason === "")).toBe(true);
  });

  it("reads when a job finished and its pipeline, from REST, job hooks and pipeline hooks", () => {
    const rest = observeRestJob(restJobSchema.parse(jobsList[0]), 1, NOW)!;
    expect(rest.finishedAtMs).toBe(Date.parse(jobsList[0]!.finished_at!));
    expect(rest.pipelineId).toBe(jobsList[0]!.pipeline.id);
    const hook = observeJobHook(jobHookSchema.parse({ ...jobHook, build_status: "success", build_finished_at: "2021-02-23T02:43:12.001Z" }), NOW);
    expect(hook).toMatchObject({ finishedAtMs: Date.parse("2021-02-23T02:43:12.001Z"), pipelineId: 2366 });
    const builds = observePipelineHook(pipelineHookSchema.parse(pipelineHook), NOW);
    expect(builds.find((b) => b.status === "failed")).toMatchObject({ finishedAtMs: Date.parse("2016-08-12T15:26:29Z"), pipelineId: pipelineHook.object_attributes.id });
    // Hints of the wrong type are taken as absent, not as a reason to refuse the delivery.
    expect(observeJobHook(jobHookSchema.parse({ ...jobHook, build_finished_at: 7, pipeline_id: "x" }), NOW)).toMatchObject({ finishedAtMs: null, pipelineId: null });
  });

  it("refuses an implausible field, counted by source and reason, and keeps the rest of the job", () => {
    const refused: Array<[string, string, unknown]> = [];
    const rejections: Rejections = { reject: (source, reason, detail) => refused.push([source, reason, detail?.field]) };
    const hook = jobHookSchema.parse({
      ...jobHook,
      build_status: "success",
      build_started_at: "2026-12-07T11:00:00Z",
      build_finished_at: "9999-12-31T00:00:00Z",
      build_duration: 1e308,
      build_queued_duration: 1e12,
      pipeline_id: "x",
    });
    expect(observeJobHook(hook, NOW, rejections)).toMatchObject({
      id: 1977,
      status: "success",
      startedAtMs: Date.parse("2026-12-07T11:00:00Z"),
      finishedAtMs: null,
      durationSeconds: null,
      queuedDurationSeconds: null,
      queuedAtMs: null,
      pipelineId: null,
    });
    expect(refused).toEqual([
      ["gitlab_webhook", "implausible_duration", "queued_duration"],
      ["gitlab_webhook", "implausible_duration", "duration"],
      ["gitlab_webhook", "future_timestamp", "finished_at"],
      ["gitlab_webhook", "invalid_field", "pipeline_id"],
    ]);
  });

  it("reads a slightly negative duration (clock skew between GitLab nodes) as 0, and keeps a REST job with a far negative one", () => {
    const refused: string[] = [];
    const rejections: Rejections = { reject: (source, reason) => refused.push(`${source}:${reason}`) };
    const skewed = restJobSchema.parse({ ...jobsList[0], duration: -0.4, queued_duration: -1.5 });
    expect(observeRestJob(skewed, 1, NOW, rejections)).toMatchObject({ id: 7, durationSeconds: 0, queuedDurationSeconds: 0 });
    expect(refused).toEqual([]);
    const broken = restJobSchema.parse({ ...jobsList[0], duration: -86_400, started_at: "1970-01-01T00:00:00Z", finished_at: "garbage" });
    expect(observeRestJob(broken, 1, NOW, rejections)).toMatchObject({ id: 7, status: "failed", durationSeconds: null, startedAtMs: null, finishedAtMs: null });
    expect(refused).toEqual(["gitlab_api:ancient_timestamp", "gitlab_api:negative_duration", "gitlab_api:invalid_timestamp"]);
  });

  it("takes a duration of JSON's 1e999 (Infinity) as one implausible field, not a malformed payload", () => {
    const target = pipelineHook.builds.findIndex((b) => typeof b.duration === "number");
    const builds = pipelineHook.builds.map((b, i) => (i === target ? { ...b, duration: "INFINITE" } : b));
    const body: unknown = JSON.parse(JSON.stringify({ ...pipelineHook, builds }).replace('"INFINITE"', "1e999"));
    const observations = observePipelineHook(pipelineHookSchema.parse(body), NOW);
    expect(observations[target]).toMatchObject({ id: pipelineHook.builds[target]!.id, durationSeconds: null, status: pipelineHook.builds[target]!.status });
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
