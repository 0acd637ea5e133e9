import { describe, expect, it } from "vitest";
import type { PodSnapshot } from "../../../../src/domain/pod.js";
import { IMAGE_BUILD_FAMILIES } from "../../../../src/metrics/families/image-builds.js";
import { JobLinks } from "../../../../src/state/job-links.js";
import { JobStore } from "../../../../src/state/jobs.js";
import { NodeStore } from "../../../../src/state/nodes.js";
import { PodStore } from "../../../../src/state/pods.js";
import { familiesOf } from "../../../helpers/families.js";
import { container, jobPod } from "../../../helpers/snapshots.js";

const T0 = Date.parse("2026-03-10T09:00:00Z");
const live = { nowMs: T0 + 600_000, observeEndedBuilds: true };

function setup() {
  const jobs = new JobStore();
  const links = new JobLinks(jobs);
  const pods = new PodStore(new NodeStore(), { links });
  return { jobs, pods, ...familiesOf(IMAGE_BUILD_FAMILIES, { builds: [pods, links] }) };
}

/** A plain Kubernetes Job's pod running Kaniko, whose container ended on its own. */
function kanikoPod(exitCode: number): PodSnapshot {
  const run = { startedAtMs: T0, finishedAtMs: T0 + 150_000, exitCode };
  return jobPod("kaniko-x", { job: null, containers: [container("kaniko", { builder: "kaniko", finishedRuns: [run] })] });
}

describe("image build family", () => {
  it("observes a builder container that ended on its own once, with an empty project outside CI", () => {
    const { pods, series } = setup();
    pods.upsert(kanikoPod(1), live);
    pods.upsert(kanikoPod(1), live);
    expect(series("gitlab_ci_image_build_duration_seconds_count")).toEqual([[{ builder: "kaniko", project: "", result: "failure" }, 1]]);
    expect(series("gitlab_ci_image_build_duration_seconds_sum")).toEqual([[{ builder: "kaniko", project: "", result: "failure" }, 150]]);
  });

  it("observes a CI job's build when the job store tells the job finished, timed as GitLab reports it", () => {
    const { jobs, pods, series } = setup();
    pods.upsert(jobPod("runner-1", { job: { jobId: "77", project: "acme/images", ref: "main", jobName: "image", pipelineId: "", runner: "r" }, containers: [container("build", { builder: "buildkit" })] }), live);
    const finished = { id: 77, projectId: 9, status: "success", tags: "docker", runner: "r", failureReason: "", queuedDurationSeconds: 1, durationSeconds: 95.5, queuedAtMs: T0, startedAtMs: T0, finishedAtMs: T0 + 95_500 } as const;
    jobs.apply(finished, "transition");
    jobs.apply(finished, "transition");
    expect(series("gitlab_ci_image_build_duration_seconds_count")).toEqual([[{ builder: "buildkit", project: "acme/images", result: "success" }, 1]]);
    expect(series("gitlab_ci_image_build_duration_seconds_sum")).toEqual([[{ builder: "buildkit", project: "acme/images", result: "success" }, 95.5]]);
  });
});
