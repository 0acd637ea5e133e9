import { afterEach, describe, expect, it } from "vitest";
import { jobSamples, webhookHarness } from "../../helpers/webhook-harness.js";
import jobHook from "../../fixtures/gitlab/job-hook.json" with { type: "json" };
import pipelineHook from "../../fixtures/gitlab/pipeline-hook.json" with { type: "json" };

const SECRET = "s3cret-webhook-token";

function harness() {
  return webhookHarness({
    secret: SECRET,
    projects: [
      { id: 380, path: "gitlab-org/gitlab-test" },
      { id: pipelineHook.project.id, path: pipelineHook.project.path_with_namespace },
    ],
  });
}

const hooks: Array<ReturnType<typeof harness>["app"]> = [];
afterEach(async () => {
  await Promise.all(hooks.splice(0).map((app) => app.close()));
});

function post(app: ReturnType<typeof harness>["app"], body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: "POST",
    url: "/webhooks/gitlab",
    headers: { "content-type": "application/json", "x-gitlab-token": SECRET, "x-gitlab-event": "Job Hook", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const finished = { ...jobHook, build_id: 5001, build_status: "failed", build_failure_reason: "runner_system_failure", build_started_at: "2021-02-23T02:42:00Z", build_duration: 30.5 };

describe("POST /webhooks/gitlab", () => {
  it("counts a finished job from a Job Hook once, even when delivered twice", async () => {
    const { app, registry } = harness();
    hooks.push(app);
    const first = await post(app, finished, { "idempotency-key": "k1" });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: "accepted" });
    const again = await post(app, finished, { "idempotency-key": "k1" });
    expect(again.json()).toMatchObject({ status: "duplicate" });
    const sameTransition = await post(app, finished, { "idempotency-key": "k2" });
    expect(sameTransition.json()).toMatchObject({ status: "duplicate" });
    const text = await registry.metrics();
    expect(text).toContain(
      'gitlab_ci_jobs_finished_total{project="gitlab-org/gitlab-test",status="failed",failure_reason="runner_system_failure",runner="shared-runners-manager-6.gitlab.com"} 1',
    );
    expect(text).toContain('gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="duplicate"} 2');
  });

  it("asks the poller to look at a project when a job's tags are unknown", async () => {
    const { app, activity } = harness();
    hooks.push(app);
    const response = await post(app, { ...jobHook, build_id: 6001, build_status: "pending" });
    expect(response.statusCode).toBe(200);
    expect(activity).toEqual([{ projectId: 380, pollSoon: true }]);
  });

  it("applies the builds of a Pipeline Hook", async () => {
    const { app, registry } = harness();
    hooks.push(app);
    const response = await post(app, pipelineHook, { "x-gitlab-event": "Pipeline Hook" });
    expect(response.statusCode).toBe(200);
    const text = await registry.metrics();
    expect(text).toMatch(/gitlab_ci_jobs_finished_total\{project="[^"]+",status="failed",failure_reason="script_failure",runner="[^"]*"\} 1/);
  });

  it.each([
    ["a missing token", { "x-gitlab-token": "" }],
    ["a wrong token", { "x-gitlab-token": "guess" }],
  ])("answers 401 to %s without changing metrics", async (_name, headers) => {
    const { app, registry } = harness();
    hooks.push(app);
    const before = await jobSamples(registry);
    const response = await post(app, finished, headers);
    expect(response.statusCode).toBe(401);
    expect(response.json().error).toMatch(/X-Gitlab-Token/);
    expect(await jobSamples(registry)).toBe(before);
    expect(await registry.metrics()).toContain('gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="unauthorized"} 1');
  });

  it("acknowledges an authentic delivery it cannot read with 200 and a reason, counts it, and changes no job", async () => {
    const { app, registry, activity } = harness();
    hooks.push(app);
    const before = await jobSamples(registry);
    const malformed = await post(app, '{"object_kind": "build",');
    expect(malformed.statusCode).toBe(200);
    expect(malformed.json()).toEqual({ status: "invalid", reason: expect.stringMatching(/malformed body/) });
    const wrongShape = await post(app, { ...finished, build_id: "seven" });
    expect(wrongShape.statusCode).toBe(200);
    expect(wrongShape.json()).toEqual({ status: "invalid", reason: expect.stringMatching(/invalid Job Hook payload: build_id/) });
    const wrongKind = await post(app, pipelineHook);
    expect(wrongKind.statusCode).toBe(200);
    expect(wrongKind.json().status).toBe("invalid");
    const noEvent = await post(app, finished, { "x-gitlab-event": "" });
    expect(noEvent.statusCode).toBe(200);
    expect(noEvent.json().status).toBe("invalid");
    expect(await jobSamples(registry)).toBe(before);
    expect(await registry.metrics()).toContain('gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="invalid"} 3');
    // The unreadable Job Hook names its project: polling is asked to read it soon.
    expect(activity).toContainEqual({ projectId: 380, pollSoon: false });
  });

  it("acknowledges an oversized body unread with 200, counted as too_large", async () => {
    const { app, registry } = harness();
    hooks.push(app);
    const response = await post(app, { ...finished, padding: "x".repeat(20_000) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "too_large", reason: expect.stringMatching(/larger than 16384 bytes/) });
    expect(await registry.metrics()).toContain('gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="too_large"} 1');
  });

  it("takes a Job Hook of GitLab before 16.3, which has no project object, and counts its job once", async () => {
    const { app, registry } = harness();
    hooks.push(app);
    const { project: _project, ...oldShape } = finished as typeof finished & { project?: unknown };
    const first = await post(app, oldShape);
    expect(first.statusCode).toBe(200);
    expect(first.json().status).toBe("accepted");
    expect((await post(app, oldShape)).json().status).toBe("duplicate");
    expect(await registry.metrics()).toMatch(/gitlab_ci_jobs_finished_total\{[^}]*status="failed",failure_reason="runner_system_failure"[^}]*\} 1/);
  });

  it("acknowledges authentic events it does not use, so GitLab keeps the hook enabled", async () => {
    const { app, registry } = harness();
    hooks.push(app);
    const response = await post(app, { object_kind: "push" }, { "x-gitlab-event": "Push Hook" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: "ignored" });
    const odd = await post(app, { object_kind: "x" }, { "x-gitlab-event": "Something Hook" });
    expect(odd.statusCode).toBe(200);
    const text = await registry.metrics();
    expect(text).toContain('gitlab_ci_exporter_webhook_events_total{event="Push Hook",outcome="ignored"} 1');
    expect(text).toContain('gitlab_ci_exporter_webhook_events_total{event="other",outcome="ignored"} 1');
  });

  it("ignores deliveries for projects it does not watch", async () => {
    const { app, registry } = harness();
    hooks.push(app);
    const response = await post(app, { ...finished, project_id: 999, project: { ...jobHook.project, id: 999 } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: "ignored" });
    expect(await registry.metrics()).not.toContain("gitlab_ci_jobs_finished_total{");
  });
});

describe("the rest of the server", () => {
  it("serves an index page, health and metrics", async () => {
    const { app } = harness();
    hooks.push(app);
    const index = await app.inject({ url: "/" });
    expect(index.body).toContain('href="metrics"');
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const metrics = await app.inject({ url: "/metrics" });
    expect(metrics.headers["content-type"]).toContain("text/plain");
    expect(metrics.body).toMatch(/gitlab_ci_exporter_build_info\{version="\d+\.\d+\.\d+"\} 1/);
    expect(metrics.body).toContain("process_cpu_seconds_total");
  });
});

describe("series cap", () => {
  it("refuses label sets beyond MAX_SERIES_PER_FAMILY and counts them", async () => {
    const { app, registry } = webhookHarness({ secret: SECRET, projects: [{ id: 380, path: "gitlab-org/gitlab-test" }], maxSeriesPerFamily: 100 });
    hooks.push(app);
    for (let i = 0; i < 250; i++) {
      // A new runner description per job: the kind of label that grows without bound.
      await post(app, { ...finished, build_id: 10_000 + i, runner: { ...jobHook.runner, description: `autoscaled-${i}` } });
    }
    const text = await registry.metrics();
    expect(text.match(/^gitlab_ci_jobs_finished_total\{/gm)).toHaveLength(100);
    expect(text).toContain('gitlab_ci_exporter_series_dropped_total{family="gitlab_ci_jobs_finished_total"} 150');
  });
});
