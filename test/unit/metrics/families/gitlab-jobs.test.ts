import { describe, expect, it } from "vitest";
import type { JobObservation } from "../../../../src/domain/job.js";
import { GITLAB_JOB_FAMILIES } from "../../../../src/metrics/families/gitlab-jobs.js";
import { JobStore } from "../../../../src/state/jobs.js";
import { PipelineStore } from "../../../../src/state/pipelines.js";
import { ProjectRegistry } from "../../../../src/state/projects.js";
import { familiesOf } from "../../../helpers/families.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");

function job(overrides: Partial<JobObservation> & Pick<JobObservation, "id" | "status">): JobObservation {
  return { projectId: 1, tags: "docker", runner: "r1", failureReason: "", queuedDurationSeconds: null, durationSeconds: null, queuedAtMs: null, startedAtMs: null, ...overrides };
}

function setup() {
  let now = T0;
  const jobs = new JobStore({ countFinishedSinceMs: T0 - 60_000, now: () => now });
  const pipelines = new PipelineStore({ countFinishedSinceMs: T0 - 60_000, now: () => now });
  const projects = new ProjectRegistry();
  projects.replaceAll([
    { id: 1, path: "acme/api" },
    { id: 2, path: "acme/web" },
  ]);
  return { jobs, pipelines, projects, advance: (ms: number) => (now += ms), ...familiesOf(GITLAB_JOB_FAMILIES, { jobs, pipelines, projects }) };
}

describe("GitLab job families", () => {
  it("read pending and running jobs per project and tag set, and the oldest pending job's queue entry", () => {
    const { jobs, series } = setup();
    jobs.apply(job({ id: 1, status: "pending", queuedAtMs: T0 - 30_000 }));
    jobs.apply(job({ id: 2, status: "pending", queuedAtMs: T0 - 90_000 }));
    jobs.apply(job({ id: 3, status: "pending", tags: "docker,gpu", queuedAtMs: T0 - 10_000 }));
    jobs.apply(job({ id: 4, status: "running", projectId: 2, queuedAtMs: T0 - 5_000, startedAtMs: T0 }));
    // A project nobody watches has no series.
    jobs.apply(job({ id: 5, status: "pending", projectId: 99 }));
    expect(series("gitlab_ci_jobs_pending")).toEqual([
      [{ project: "acme/api", tags: "docker" }, 2],
      [{ project: "acme/api", tags: "docker,gpu" }, 1],
    ]);
    expect(series("gitlab_ci_jobs_running")).toEqual([[{ project: "acme/web", tags: "docker" }, 1]]);
    expect(series("gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds")).toEqual([
      [{ project: "acme/api", tags: "docker" }, (T0 - 90_000) / 1000],
      [{ project: "acme/api", tags: "docker,gpu" }, (T0 - 10_000) / 1000],
    ]);
    jobs.apply(job({ id: 2, status: "running", queuedAtMs: T0 - 90_000, startedAtMs: T0, queuedDurationSeconds: 90 }));
    expect(series("gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds")[0]).toEqual([{ project: "acme/api", tags: "docker" }, (T0 - 30_000) / 1000]);
  });

  it("count each finished job once and observe its wait and its run time", () => {
    const { jobs, value, series } = setup();
    jobs.apply(job({ id: 1, status: "pending", queuedAtMs: T0 - 40_000 }));
    jobs.apply(job({ id: 1, status: "running", startedAtMs: T0, queuedDurationSeconds: 40 }));
    const failed = job({ id: 1, status: "failed", failureReason: "script_failure", startedAtMs: T0, queuedDurationSeconds: 40, durationSeconds: 125, finishedAtMs: T0 + 125_000 });
    jobs.apply(failed);
    jobs.apply(failed);
    jobs.apply(job({ id: 2, status: "success", projectId: 2, durationSeconds: null, finishedAtMs: T0 }), "transition");
    expect(series("gitlab_ci_jobs_finished_total")).toEqual([
      [{ project: "acme/api", status: "failed", failure_reason: "script_failure", runner: "r1" }, 1],
      [{ project: "acme/web", status: "success", failure_reason: "", runner: "r1" }, 1],
    ]);
    expect(value("gitlab_ci_job_queued_duration_seconds_count", { project: "acme/api" })).toBe(1);
    expect(value("gitlab_ci_job_queued_duration_seconds_sum", { project: "acme/api" })).toBe(40);
    expect(value("gitlab_ci_job_queued_duration_seconds_bucket", { project: "acme/api", le: "30" })).toBe(0);
    expect(value("gitlab_ci_job_queued_duration_seconds_bucket", { project: "acme/api", le: "60" })).toBe(1);
    expect(value("gitlab_ci_job_duration_seconds_sum", { project: "acme/api", status: "failed" })).toBe(125);
    // A finish without a duration counts but is not observed.
    expect(value("gitlab_ci_job_duration_seconds_count", { project: "acme/web", status: "success" })).toBeUndefined();
  });

  it("count each pipeline once by project and final status, from the pipeline state", () => {
    const { pipelines, projects, series } = setup();
    const finishedAtMs = T0;
    for (const [id, projectId, status] of [[1, 1, "success"], [2, 1, "success"], [3, 1, "failed"], [4, 2, "canceled"], [5, 2, "skipped"], [6, 99, "success"]] as const) {
      pipelines.apply({ id, projectId, status, finishedAtMs }, "listing");
      pipelines.apply({ id, projectId, status, finishedAtMs }, "transition");
    }
    pipelines.apply({ id: 7, projectId: 1, status: "running", finishedAtMs: null }, "transition");
    expect(series("gitlab_ci_pipelines_finished_total")).toEqual([
      [{ project: "acme/api", status: "success" }, 2],
      [{ project: "acme/api", status: "failed" }, 1],
      [{ project: "acme/web", status: "canceled" }, 1],
      [{ project: "acme/web", status: "skipped" }, 1],
    ]);
    projects.removeById(2);
    expect(series("gitlab_ci_pipelines_finished_total").map(([labels]) => labels.project)).toEqual(["acme/api", "acme/api"]);
  });

  it("drop a project's series when it leaves, and keep the others", () => {
    const { jobs, projects, samples } = setup();
    jobs.apply(job({ id: 1, status: "success", durationSeconds: 10, startedAtMs: T0, queuedDurationSeconds: 1, finishedAtMs: T0 }), "transition");
    jobs.apply(job({ id: 2, status: "success", projectId: 2, durationSeconds: 10, startedAtMs: T0, queuedDurationSeconds: 1, finishedAtMs: T0 }), "transition");
    projects.removeById(1);
    const projectsLeft = new Set(samples().map((s) => s.labels.project));
    expect(projectsLeft).toEqual(new Set(["acme/web"]));
  });
});
