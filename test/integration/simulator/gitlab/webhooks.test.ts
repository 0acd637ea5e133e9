import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, WebhookSender, deliver, type DeliveryAttempt, type SimProject } from "../../../../src/simulator/gitlab/index.js";
import { fixture, ISO_MS, startReceiver, UUID, type Received, type Receiver } from "./helpers.js";

type Json = Record<string, unknown>;
const RUNNER = { id: 380987, description: "shared-runners-manager-6.gitlab.com", tags: ["linux", "docker"] };

let receiver: Receiver;
let clock: ManualClock;
let world: GitLabWorld;
let project: SimProject;
const senders: WebhookSender[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
});

afterAll(async () => {
  for (const sender of senders) sender.detach();
  await receiver.close();
});

beforeEach(() => {
  receiver.received.length = 0;
  receiver.status = 200;
  receiver.hold = null;
  for (const sender of senders.splice(0)) sender.detach();
  clock = new ManualClock(Date.UTC(2026, 5, 1, 9, 0, 0));
  world = new GitLabWorld({ now: clock.now, baseUrl: "https://gitlab.example.com" });
  project = world.addProject("gitlab-org/gitlab-test");
});

function sender(options: ConstructorParameters<typeof WebhookSender>[1] = {}): WebhookSender {
  const created = new WebhookSender(world, options);
  senders.push(created);
  return created;
}

const events = (kind: "Job Hook" | "Pipeline Hook") => receiver.received.filter((r) => r.headers["x-gitlab-event"] === kind);
const statuses = (received: Received[]) => received.map((r) => r.body.build_status);

/** created → pending → running (2 s later) → failed (30 s later). */
function failingJob() {
  const job = world.createJob(project.id, { name: "test", stage: "test", tags: ["docker"], status: "pending" });
  clock.advance(2000);
  world.start(job.id, RUNNER);
  clock.advance(30_000);
  world.finish(job.id, "failed", "script_failure");
  return job;
}

describe("Job Hook deliveries", () => {
  it("carry GitLab's delivery headers", async () => {
    const hooks = sender();
    const handle = hooks.addHook({ url: receiver.url, token: "s3cret", events: { job: true } });
    failingJob();
    await hooks.flush();
    const jobHooks = events("Job Hook");
    expect(jobHooks).toHaveLength(4);
    for (const { headers } of jobHooks) {
      expect(headers["content-type"]).toBe("application/json");
      expect(headers["user-agent"]).toBe("GitLab/17.6.0");
      expect(headers["x-gitlab-token"]).toBe("s3cret");
      expect(headers["x-gitlab-instance"]).toBe("https://gitlab.example.com");
      expect(headers["x-gitlab-webhook-uuid"]).toBe(handle.uuid);
      expect(headers["x-gitlab-event-uuid"]).toMatch(UUID);
      expect(headers["idempotency-key"]).toMatch(UUID);
    }
    expect(new Set(jobHooks.map((r) => r.headers["idempotency-key"])).size).toBe(4);
    expect(new Set(jobHooks.map((r) => r.headers["x-gitlab-event-uuid"])).size).toBe(4);
    expect(hooks.stats).toMatchObject({ sent: 4, failed: 0, dropped: 0, duplicated: 0 });
    expect(hooks.stats.statuses.get(200)).toBe(4);
  });

  it("have the documented body, key for key, at each status", async () => {
    const hooks = sender();
    hooks.addHook({ url: receiver.url, events: { job: true } });
    const job = failingJob();
    await hooks.flush();
    const documented = fixture<Json>("job-hook.json");
    const bodies = events("Job Hook").map((r) => r.body);
    expect(bodies.map((b) => b.build_status)).toEqual(["created", "pending", "running", "failed"]);
    for (const body of bodies) {
      // source_pipeline is only there for pipelines triggered by another pipeline.
      expect(Object.keys(body)).toEqual(Object.keys(documented).filter((k) => k !== "source_pipeline"));
      for (const nested of ["user", "commit", "repository", "project"]) expect(Object.keys(body[nested] as Json)).toEqual(Object.keys(documented[nested] as Json));
      expect(body).toMatchObject({ object_kind: "build", build_id: job.id, build_name: "test", build_stage: "test", pipeline_id: job.pipelineId, project_id: project.id, project_name: "gitlab-org/gitlab-test", retries_count: 0 });
      expect((body.commit as Json).id).toBe(job.pipelineId);
      expect(body.build_created_at).toMatch(ISO_MS);
      expect(body.build_created_at_iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect((body.project as Json).path_with_namespace).toBe("gitlab-org/gitlab-test");
    }
    const [created, pending, running, failed] = bodies as [Json, Json, Json, Json];
    expect(created).toMatchObject({ build_failure_reason: "unknown_failure", build_queued_duration: null, build_duration: null, runner: null, build_started_at: null });
    expect(pending).toMatchObject({ build_failure_reason: "unknown_failure", build_queued_duration: 0 });
    expect(running).toMatchObject({ build_failure_reason: "unknown_failure", build_queued_duration: 2, build_duration: 0 });
    expect(Object.keys(running.runner as Json)).toEqual(Object.keys(documented.runner as Json));
    expect(running.runner).toEqual({ active: true, runner_type: "instance_type", is_shared: true, id: 380987, description: "shared-runners-manager-6.gitlab.com", tags: ["linux", "docker"] });
    expect(failed).toMatchObject({ build_failure_reason: "script_failure", build_queued_duration: 2, build_duration: 30 });
    expect(failed.build_finished_at).toMatch(ISO_MS);
    expect((failed.commit as Json).status).toBe("failed");
  });

  it("count retries", async () => {
    const hooks = sender();
    hooks.addHook({ url: receiver.url, events: { job: true } });
    const job = failingJob();
    const retry = world.retry(job.id);
    await hooks.flush();
    const last = events("Job Hook").at(-1)!.body;
    expect(last).toMatchObject({ build_id: retry.id, build_status: "pending", retries_count: 1 });
  });

  it("arrive in order for each job, even with deliveries in parallel", async () => {
    const hooks = sender({ concurrency: 4 });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    const jobs = Array.from({ length: 12 }, (_, i) => world.createJob(project.id, { name: `j${i}`, status: "pending" }));
    for (const job of jobs) world.start(job.id, RUNNER);
    for (const job of jobs) world.finish(job.id, "success");
    await hooks.flush();
    for (const job of jobs) {
      expect(statuses(events("Job Hook").filter((r) => r.body.build_id === job.id))).toEqual(["created", "pending", "running", "success"]);
    }
  });
});

describe("waiting for deliveries", () => {
  it("settled waits for one job's deliveries, not for the sender to fall idle", async () => {
    const hooks = sender({ concurrency: 2 });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    const quick = world.createJob(project.id, { name: "quick", status: "pending" });
    const stuck = world.createJob(project.id, { name: "stuck", status: "pending" });
    expect(quick.id % 2).not.toBe(stuck.id % 2);
    receiver.hold = (body) => body.build_id === stuck.id;
    world.start(quick.id, RUNNER);
    world.start(stuck.id, RUNNER);
    let flushed = false;
    const flush = hooks.flush().then(() => (flushed = true));
    await hooks.settled(quick.id);
    expect(statuses(events("Job Hook").filter((r) => r.body.build_id === quick.id))).toEqual(["created", "pending", "running"]);
    // The other lane still waits for its first answer: the sender is not idle.
    expect(statuses(events("Job Hook").filter((r) => r.body.build_id === stuck.id))).toEqual(["created"]);
    expect(flushed).toBe(false);
    // The stuck job's created hook in flight, its pending and running hooks queued behind it.
    expect(hooks.backlog).toBe(3);
    receiver.release();
    receiver.hold = null;
    await flush;
    await hooks.settled(stuck.id);
    expect(statuses(events("Job Hook").filter((r) => r.body.build_id === stuck.id))).toEqual(["created", "pending", "running"]);
    expect(hooks.backlog).toBe(0);
  });

  it("settled resolves at once when nothing about the key is queued", async () => {
    const hooks = sender();
    hooks.addHook({ url: receiver.url, events: { job: true } });
    await hooks.settled(12345);
    expect(receiver.received).toHaveLength(0);
  });

  it("reports when each delivery was queued, sent and answered", async () => {
    const attempts: DeliveryAttempt[] = [];
    const hooks = sender({ onAttempt: (attempt) => attempts.push(attempt) });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    const job = world.createJob(project.id, { name: "timed" });
    world.enqueue(job.id);
    await hooks.flush();
    expect(attempts.map((a) => [a.event, a.key, a.status])).toEqual([
      ["Job Hook", job.id, 200],
      ["Job Hook", job.id, 200],
    ]);
    for (const a of attempts) expect(a.queuedAt <= a.sentAt && a.sentAt <= a.answeredAt).toBe(true);
    // One lane: the second was queued with the first and sent only once the first was answered.
    expect(attempts[1]!.queuedAt).toBeLessThan(attempts[0]!.answeredAt);
    expect(attempts[1]!.sentAt).toBeGreaterThanOrEqual(attempts[0]!.answeredAt);
  });
});

describe("Pipeline Hook deliveries", () => {
  it("have the documented body when the pipeline's status changes", async () => {
    const hooks = sender();
    hooks.addHook({ url: receiver.url, events: { pipeline: true } });
    const pipeline = world.createPipeline(project.id, { ref: "master", source: "merge_request_event" });
    const build = world.createJob(project.id, { name: "build", stage: "build", pipelineId: pipeline.id });
    const test = world.createJob(project.id, { name: "test-image", stage: "test", pipelineId: pipeline.id });
    world.enqueue(build.id);
    clock.advance(5000);
    world.start(build.id, RUNNER);
    clock.advance(20_000);
    world.finish(build.id, "success");
    world.enqueue(test.id);
    world.start(test.id, RUNNER);
    clock.advance(10_000);
    world.finish(test.id, "failed", "script_failure");
    await hooks.flush();
    expect(events("Job Hook")).toEqual([]);
    const bodies = events("Pipeline Hook").map((r) => r.body);
    expect(bodies.map((b) => (b.object_attributes as Json).status)).toEqual(["pending", "running", "failed"]);
    const documented = fixture<Json>("pipeline-hook.json");
    const last = bodies.at(-1)!;
    expect(Object.keys(last)).toEqual(Object.keys(documented).filter((k) => k !== "source_pipeline"));
    expect(Object.keys(last.object_attributes as Json)).toEqual(expect.arrayContaining(Object.keys(documented.object_attributes as Json)));
    const documentedBuild = (documented.builds as Json[])[1]!;
    const attributes = last.object_attributes as Json;
    expect(attributes).toMatchObject({ id: pipeline.id, iid: 1, ref: "master", source: "merge_request_event", status: "failed", stages: ["build", "test"], duration: 30 });
    expect(attributes.created_at).toBe("2026-06-01 09:00:00 UTC");
    expect(attributes.finished_at).toBe("2026-06-01 09:00:35 UTC");
    const builds = last.builds as Json[];
    expect(builds.map((b) => [b.name, b.status, b.failure_reason])).toEqual([
      ["build", "success", null],
      ["test-image", "failed", "script_failure"],
    ]);
    for (const b of builds) expect(Object.keys(b)).toEqual(Object.keys(documentedBuild));
    expect(builds[0]).toMatchObject({ queued_duration: 5, duration: 20, started_at: "2026-06-01 09:00:05 UTC", finished_at: "2026-06-01 09:00:25 UTC" });
    expect(Object.keys(builds[0]!.runner as Json)).toEqual(Object.keys(documentedBuild.runner as Json));
    expect(bodies[0]!.builds as Json[]).toHaveLength(2);
    expect(((bodies[0]!.builds as Json[])[1] as Json).status).toBe("created");
  });
});

describe("WebhookSender options", () => {
  it("filters by project and event kind, and sends no token when none is set", async () => {
    const other = world.addProject("acme/web");
    const hooks = sender();
    const a = hooks.addHook({ url: receiver.url, events: { job: true }, projectIds: [other.id] });
    const b = hooks.addHook({ url: receiver.url, token: "t", events: { pipeline: true } });
    expect(a.uuid).not.toBe(b.uuid);
    failingJob();
    const foreign = world.createJob(other.id, { name: "lint", status: "pending" });
    await hooks.flush();
    expect(events("Job Hook").map((r) => r.body.build_id)).toEqual([foreign.id, foreign.id]);
    expect(events("Job Hook").every((r) => r.headers["x-gitlab-token"] === undefined && r.headers["x-gitlab-webhook-uuid"] === a.uuid)).toBe(true);
    expect(events("Pipeline Hook").map((r) => (r.body.project as Json).id)).toEqual([project.id, project.id, project.id, other.id]);
    expect(events("Pipeline Hook").every((r) => r.headers["x-gitlab-token"] === "t")).toBe(true);
  });

  it("re-delivers with the same Idempotency-Key when asked for duplicates", async () => {
    const hooks = sender({ duplicateRatio: 0.5 });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    failingJob();
    await hooks.flush();
    const keys = events("Job Hook").map((r) => r.headers["idempotency-key"] as string);
    expect(keys).toHaveLength(6);
    expect(new Set(keys).size).toBe(4);
    expect(hooks.stats.duplicated).toBe(2);
    const counts = new Map<string, Received[]>();
    for (const r of events("Job Hook")) counts.set(r.headers["idempotency-key"] as string, [...(counts.get(r.headers["idempotency-key"] as string) ?? []), r]);
    for (const copies of counts.values()) {
      if (copies.length === 1) continue;
      expect(copies[1]!.body).toEqual(copies[0]!.body);
      expect(copies[1]!.headers["x-gitlab-event-uuid"]).toBe(copies[0]!.headers["x-gitlab-event-uuid"]);
    }
  });

  it("drops deliveries while paused, like a webhook outage", async () => {
    const hooks = sender({ paused: true });
    hooks.addHook({ url: receiver.url, events: { job: true, pipeline: true } });
    const job = world.createJob(project.id, { name: "a", status: "pending" });
    world.start(job.id, RUNNER);
    hooks.paused = false;
    world.finish(job.id, "success");
    await hooks.flush();
    expect(statuses(events("Job Hook"))).toEqual(["success"]);
    expect(hooks.stats.dropped).toBe(5);
  });

  it("delays each delivery", async () => {
    const hooks = sender({ deliveryDelayMs: 40 });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    const started = Date.now();
    world.createJob(project.id, { name: "slow", status: "pending" });
    expect(receiver.received).toHaveLength(0);
    await hooks.flush();
    expect(receiver.received).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });

  it("counts answers by status and deliveries that got none", async () => {
    receiver.status = 500;
    const hooks = sender({ timeoutMs: 1000 });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    hooks.addHook({ url: "http://127.0.0.1:1/unreachable", events: { job: true } });
    world.createJob(project.id, { name: "x" });
    await hooks.flush();
    expect(hooks.stats).toMatchObject({ sent: 1, failed: 1 });
    expect(hooks.stats.statuses.get(500)).toBe(1);
  });

  it("stops when a hook is removed or the sender detached", async () => {
    const hooks = sender();
    const handle = hooks.addHook({ url: receiver.url, events: { job: true } });
    world.createJob(project.id, { name: "one" });
    handle.remove();
    world.createJob(project.id, { name: "two" });
    hooks.addHook({ url: receiver.url, events: { job: true } });
    hooks.detach();
    world.createJob(project.id, { name: "three" });
    await hooks.flush();
    expect(events("Job Hook").map((r) => r.body.build_name)).toEqual(["one"]);
  });
});

describe("deliver", () => {
  it("sends a hand-made delivery with GitLab's headers, overridable", async () => {
    const body = fixture<Json>("job-hook.json");
    const answer = await deliver(receiver.url, "Job Hook", body, { "X-Gitlab-Token": "hand", "Idempotency-Key": "00000000-0000-4000-8000-000000000001" });
    expect(answer).toEqual({ status: 200, body: "{}" });
    const received = receiver.received.find((r) => r.headers["x-gitlab-token"] === "hand");
    expect(received!.body).toEqual(body);
    expect(received!.headers).toMatchObject({
      "x-gitlab-event": "Job Hook",
      "x-gitlab-token": "hand",
      "idempotency-key": "00000000-0000-4000-8000-000000000001",
      "user-agent": "GitLab/17.6.0",
      "content-type": "application/json",
    });
    expect(received!.headers["x-gitlab-webhook-uuid"]).toMatch(UUID);
    await deliver(receiver.url, "Pipeline Hook", '{"object_kind":"pipeline"}');
    expect(receiver.received.at(-1)!.body).toEqual({ object_kind: "pipeline" });
  });
});
