import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { jobIdFromUrl, projectPathFromJobUrl, recogniseJobPod, RUNNER_JOB_POD_KEYS, truncate, type JobPodOptions } from "../../../src/domain/job-pod.js";

const fixture = parse(readFileSync(new URL("../../fixtures/kubernetes/pod-gitlab-runner-job.yaml", import.meta.url), "utf8")) as {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
};
const runnerDefaults: JobPodOptions = { keys: RUNNER_JOB_POD_KEYS, gitlabBasePath: "", refMaxLength: 128 };

describe("recogniseJobPod", () => {
  it("reads a gitlab-runner 19.3 job pod with the default keys", () => {
    expect(recogniseJobPod(fixture.metadata, runnerDefaults)).toEqual({
      jobId: "812345",
      project: "acme/platform/backend-api",
      ref: "main",
      jobName: "build-image",
      pipelineId: "",
      runner: "eks-spot-runner",
    });
  });

  it("is null for pods without a job id or job URL", () => {
    expect(recogniseJobPod({ labels: { app: "web" }, annotations: {} }, runnerDefaults)).toBeNull();
    expect(recogniseJobPod({}, runnerDefaults)).toBeNull();
    expect(recogniseJobPod({ annotations: { "job.runner.gitlab.com/id": "not-a-number" } }, runnerDefaults)).toBeNull();
  });

  it("takes the job id from the URL when no id key is set", () => {
    const meta = { annotations: { "job.runner.gitlab.com/url": "https://gitlab.example.com/acme/api/-/jobs/42" } };
    expect(recogniseJobPod(meta, runnerDefaults)).toMatchObject({ jobId: "42", project: "acme/api" });
  });

  it("follows a custom pod_labels / pod_annotations mapping, trying keys in order", () => {
    const options: JobPodOptions = {
      keys: {
        jobId: ["ci.example.com/job-id", "job.runner.gitlab.com/id"],
        jobUrl: ["ci.example.com/job-url"],
        ref: ["ci.example.com/ref"],
        jobName: ["ci.example.com/job-name"],
        projectPath: ["ci.example.com/project-path"],
        projectId: [],
        pipelineId: ["ci.example.com/pipeline-id"],
        runnerName: ["ci.example.com/runner"],
      },
      gitlabBasePath: "",
      refMaxLength: 128,
    };
    // An older runner (no runner.gitlab.com annotations) with the team's own labels and annotations.
    const meta = {
      labels: { pod: "runner-abc-project-7-concurrent-0", "ci.example.com/job-id": "9001", "ci.example.com/pipeline-id": "555", "ci.example.com/runner": "legacy-runner" },
      annotations: { "ci.example.com/project-path": "/platform/tools/", "ci.example.com/ref": "feature/login", "ci.example.com/job-name": "test:unit" },
    };
    expect(recogniseJobPod(meta, options)).toEqual({
      jobId: "9001",
      project: "platform/tools",
      ref: "feature/login",
      jobName: "test:unit",
      pipelineId: "555",
      runner: "legacy-runner",
    });
  });

  it("prefers the job URL's project over a project path key", () => {
    const options: JobPodOptions = { ...runnerDefaults, keys: { ...RUNNER_JOB_POD_KEYS, projectPath: ["p"] } };
    const meta = { annotations: { "job.runner.gitlab.com/id": "1", "job.runner.gitlab.com/url": "https://g.example/a/b/-/jobs/1", p: "x/y" } };
    expect(recogniseJobPod(meta, options)?.project).toBe("a/b");
  });

  it("falls back to the project id label, looked up among the watched projects, when nothing tells the path", () => {
    // gitlab-runner 17.9+ labels: the id is exact, the namespace and name labels are sanitised slugs.
    const labels = { "project.runner.gitlab.com/id": "4217", "project.runner.gitlab.com/namespace": "acme_platform", "project.runner.gitlab.com/name": "backend-api" };
    const meta = { labels, annotations: { "job.runner.gitlab.com/id": "812345" } };
    const known = (id: number) => (id === 4217 ? "acme/platform/backend-api" : undefined);
    expect(recogniseJobPod(meta, runnerDefaults, known)?.project).toBe("acme/platform/backend-api");
    expect(recogniseJobPod(meta, runnerDefaults, () => undefined)?.project).toBe("");
    expect(recogniseJobPod(meta, runnerDefaults)?.project).toBe("");
    // The job URL still comes first.
    const withUrl = { labels, annotations: { ...meta.annotations, "job.runner.gitlab.com/url": "https://gitlab.example.com/acme/renamed/-/jobs/812345" } };
    expect(recogniseJobPod(withUrl, runnerDefaults, known)?.project).toBe("acme/renamed");
    // A project id label alone does not make a CI job pod.
    expect(recogniseJobPod({ labels }, runnerDefaults, known)).toBeNull();
  });

  it("keeps slashes in the ref and cuts it at the configured length", () => {
    const meta = { annotations: { "job.runner.gitlab.com/id": "1", "job.runner.gitlab.com/ref": "feature/JIRA-1234/a-very-long-branch-name" } };
    expect(recogniseJobPod(meta, runnerDefaults)?.ref).toBe("feature/JIRA-1234/a-very-long-branch-name");
    expect(recogniseJobPod(meta, { ...runnerDefaults, refMaxLength: 12 })?.ref).toBe("feature/JIRA");
  });
});

describe("projectPathFromJobUrl", () => {
  it.each([
    ["https://gitlab.example.com/acme/api/-/jobs/1", "", "acme/api"],
    ["https://gitlab.example.com/acme/platform/backend-api/-/jobs/812345", "", "acme/platform/backend-api"],
    ["https://example.com/gitlab/acme/api/-/jobs/7", "/gitlab", "acme/api"],
    ["https://example.com/gitlab/acme/api/-/jobs/7", "gitlab/", "acme/api"],
    // The base path is dropped only as a whole leading segment.
    ["https://example.com/gitlabber/api/-/jobs/7", "/gitlab", "gitlabber/api"],
    // Without a configured base path the URL's path is taken whole.
    ["https://example.com/gitlab/acme/api/-/jobs/7", "", "gitlab/acme/api"],
    ["https://gitlab.example.com:8443/Acme/My.Project/-/jobs/3?x=1", "", "Acme/My.Project"],
    ["https://gitlab.example.com/acme/sp%C3%A4ce/-/jobs/3", "", "acme/späce"],
  ])("%s (base %j) is %s", (url, base, expected) => {
    expect(projectPathFromJobUrl(url, base)).toBe(expected);
  });

  it("is null without a /-/jobs/ part or a project", () => {
    expect(projectPathFromJobUrl("https://gitlab.example.com/acme/api/jobs/1")).toBeNull();
    expect(projectPathFromJobUrl("https://gitlab.example.com/-/jobs/1")).toBeNull();
    expect(projectPathFromJobUrl("https://example.com/gitlab/-/jobs/1", "/gitlab")).toBeNull();
  });

  it("reads the job id", () => {
    expect(jobIdFromUrl("https://g.example/a/b/-/jobs/812345")).toBe("812345");
    expect(jobIdFromUrl("https://g.example/a/b/-/jobs/12/raw")).toBe("12");
    expect(jobIdFromUrl("https://g.example/a/b/-/jobs/x")).toBeNull();
  });
});

describe("truncate", () => {
  it("never leaves half a surrogate pair", () => {
    expect(truncate("ab😀c", 3)).toBe("ab");
    expect(truncate("abc", 3)).toBe("abc");
  });
});
