import { describe, expect, it } from "vitest";
import { buildResultOfJob } from "../../../src/domain/builder.js";
import type { PodSnapshot } from "../../../src/domain/pod.js";
import { JOB_LINKS_CAPACITY } from "../../../src/state/job-links.js";
import type { JobFinished } from "../../../src/domain/events.js";
import { buildHouse } from "../../../src/wiring.js";
import { parseMetrics, sum, type Sample } from "../../helpers/prom.js";
import { container, jobPod as runnerPod } from "../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const live = { nowMs: T0 + 60_000, observeEndedBuilds: true };

/** A runner job pod of acme/images; `builder` puts that builder's image in its `build` container. */
function jobPod(jobId: number, options: { builder?: string; pipelineId?: string; overrides?: Partial<PodSnapshot> } = {}): PodSnapshot {
  return runnerPod(`runner-x-project-9-concurrent-0-${jobId}`, {
    uid: `uid-${jobId}`,
    job: { jobId: String(jobId), project: "acme/images", ref: "main", jobName: "image", pipelineId: options.pipelineId ?? "", runner: "r" },
    containers: [container("build", { builder: options.builder ?? null }), container("helper")],
    ...options.overrides,
  });
}

function finished(jobId: number, overrides: Partial<JobFinished> = {}): JobFinished {
  return { jobId, projectId: 9, status: "success", failureReason: "", runner: "r", durationSeconds: 95.5, ...overrides };
}

function setup() {
  const { state, exposition } = buildHouse({ maxSeriesPerFamily: 1000, processMetrics: false });
  const { links, pods } = state.kube!;
  const samples = (): Sample[] => parseMetrics(exposition.families.map((f) => f.render()).join(""));
  const builds = () =>
    samples()
      .filter((s) => s.name === "gitlab_ci_image_build_duration_seconds_count")
      .map((s) => [s.labels.builder, s.labels.project, s.labels.result, s.value]);
  const pipelineOf = (pod: string) => samples().find((s) => s.name === "gitlab_ci_job_pod_info" && s.labels.pod === pod)?.labels.pipeline_id;
  return { links, pods, samples, builds, pipelineOf };
}

describe("a job's build result", () => {
  it("is the job's success, or its script failing or timing out; nothing else ends a build", () => {
    expect(buildResultOfJob("success", "")).toBe("success");
    expect(buildResultOfJob("failed", "script_failure")).toBe("failure");
    expect(buildResultOfJob("failed", "job_execution_timeout")).toBe("failure");
    for (const reason of ["runner_system_failure", "stuck_or_timeout_failure", "api_failure", "unknown_failure", "image_pull_failure"]) {
      expect(buildResultOfJob("failed", reason)).toBeNull();
    }
    expect(buildResultOfJob("canceled", "")).toBeNull();
  });
});

describe("builds in CI job pods, timed by their job", () => {
  it("observes the job's duration and outcome once, when the job finishes after its pod was seen", () => {
    const { links, pods, samples, builds } = setup();
    pods.upsert(jobPod(7, { builder: "kaniko" }), live);
    expect(builds()).toEqual([]);
    links.jobFinished(finished(7));
    links.jobFinished(finished(7));
    pods.upsert(jobPod(7, { builder: "kaniko" }), live);
    pods.remove(jobPod(7, { builder: "kaniko" }), live.nowMs);
    expect(builds()).toEqual([["kaniko", "acme/images", "success", 1]]);
    expect(sum(samples(), "gitlab_ci_image_build_duration_seconds_sum")).toBe(95.5);
  });

  it("observes a job that finished before its pod was seen (the pod watch re-listing), once", () => {
    const { links, pods, builds } = setup();
    links.jobFinished(finished(8, { status: "failed", failureReason: "script_failure", durationSeconds: 30 }));
    expect(builds()).toEqual([]);
    pods.upsert(jobPod(8, { builder: "buildkit" }), live);
    pods.upsert(jobPod(8, { builder: "buildkit" }), live);
    expect(builds()).toEqual([["buildkit", "acme/images", "failure", 1]]);
  });

  it("observes nothing for jobs whose build container runs no builder", () => {
    const { links, pods, builds } = setup();
    pods.upsert(jobPod(9), live);
    links.jobFinished(finished(9));
    links.jobFinished(finished(10));
    expect(builds()).toEqual([]);
  });

  it("observes nothing for canceled jobs or jobs the runner or cluster ended, nor later", () => {
    const { links, pods, builds } = setup();
    pods.upsert(jobPod(11, { builder: "kaniko" }), live);
    links.jobFinished(finished(11, { status: "canceled" }));
    pods.upsert(jobPod(12, { builder: "kaniko" }), live);
    links.jobFinished(finished(12, { status: "failed", failureReason: "runner_system_failure" }));
    links.jobFinished(finished(13, { status: "failed", failureReason: "runner_system_failure" }));
    pods.upsert(jobPod(13, { builder: "kaniko" }), live);
    expect(builds()).toEqual([]);
  });

  it("observes a build once when its container also ended on its own before the pod's deletion", () => {
    const run = { startedAtMs: T0, finishedAtMs: T0 + 40_000, exitCode: 0 };
    const ended = (jobId: number) => jobPod(jobId, { builder: "kaniko", overrides: { containers: [container("build", { builder: "kaniko", finishedRuns: [run] })] } });

    const first = setup();
    first.pods.upsert(jobPod(14, { builder: "kaniko" }), live);
    first.pods.upsert(ended(14), live);
    first.links.jobFinished(finished(14));
    expect(first.builds()).toEqual([["kaniko", "acme/images", "success", 1]]);

    const second = setup();
    second.pods.upsert(jobPod(15, { builder: "kaniko" }), live);
    second.links.jobFinished(finished(15));
    second.pods.upsert(ended(15), live);
    expect(second.builds()).toEqual([["kaniko", "acme/images", "success", 1]]);
  });
});

describe("pipeline ids from the GitLab side", () => {
  it("fills the pipeline of a job pod seen before or after GitLab named it, and keeps a key's own", () => {
    const { links, pods, pipelineOf } = setup();
    const before = jobPod(21);
    pods.upsert(before, live);
    expect(pipelineOf(before.name)).toBe("");
    links.jobInPipeline(21, 501);
    expect(pipelineOf(before.name)).toBe("501");
    // The next event of the pod carries no pipeline of its own: the learned one stays.
    pods.upsert(jobPod(21), live);
    expect(pipelineOf(before.name)).toBe("501");

    links.jobInPipeline(22, 502);
    const after = jobPod(22);
    pods.upsert(after, live);
    expect(pipelineOf(after.name)).toBe("502");

    const keyed = jobPod(23, { pipelineId: "777" });
    links.jobInPipeline(23, 503);
    pods.upsert(keyed, live);
    links.jobInPipeline(23, 504);
    expect(pipelineOf(keyed.name)).toBe("777");
  });

  it("drops the series of a job pod with its pipeline when the pod goes", () => {
    const { links, pods, samples } = setup();
    links.jobInPipeline(31, 601);
    pods.upsert(jobPod(31), live);
    pods.remove(jobPod(31), live.nowMs);
    links.jobInPipeline(31, 602);
    expect(samples().filter((s) => s.name === "gitlab_ci_job_pod_info")).toEqual([]);
  });

  it("remembers a bounded number of jobs, forgetting the oldest", () => {
    const { links } = setup();
    for (let id = 1; id <= JOB_LINKS_CAPACITY + 10; id++) links.jobInPipeline(id, id + 1_000_000);
    expect(links.pipelineOf(1)).toBeUndefined();
    expect(links.pipelineOf(10)).toBeUndefined();
    expect(links.pipelineOf(11)).toBe(1_000_011);
    expect(links.pipelineOf(JOB_LINKS_CAPACITY + 10)).toBe(JOB_LINKS_CAPACITY + 1_000_010);
  });
});
