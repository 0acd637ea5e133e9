import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, WebhookSender, type GitLabWorldOptions } from "../../../../src/simulator/gitlab/index.js";
import { startReceiver, type Receiver } from "./helpers.js";

const RUNNER = { id: 9, description: "runner-9", tags: ["docker"] };
let receiver: Receiver;
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
  for (const sender of senders.splice(0)) sender.detach();
});

function setup(options: Partial<GitLabWorldOptions> = {}, everyJobChange = false) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 9, 0, 0));
  const world = new GitLabWorld({ now: clock.now, ...options });
  const project = world.addProject("acme/platform/api");
  const sender = new WebhookSender(world, { everyJobChange });
  senders.push(sender);
  sender.addHook({ url: receiver.url, events: { job: true } });
  return { clock, world, project, sender };
}

const statuses = () => receiver.received.map((r) => r.body.build_status);

describe("Job Hook transitions", () => {
  it("are sent on creation, → pending, pending → running and at the end only", async () => {
    const { world, project, sender } = setup();
    const job = world.createJob(project.id, { name: "deploy" });
    world.setStatus(job.id, "waiting_for_resource");
    world.setStatus(job.id, "preparing");
    world.enqueue(job.id);
    world.start(job.id, RUNNER);
    world.finish(job.id, "success");
    const manual = world.createJob(project.id, { name: "gate" });
    world.setStatus(manual.id, "manual");
    world.setStatus(manual.id, "skipped");
    const later = world.createJob(project.id, { name: "nightly" });
    world.setStatus(later.id, "scheduled");
    await sender.flush();
    expect(statuses()).toEqual(["created", "pending", "running", "success", "created", "created"]);
  });

  it("can follow every change when a test asks for it", async () => {
    const { world, project, sender } = setup({}, true);
    const job = world.createJob(project.id, { name: "gate" });
    world.setStatus(job.id, "manual");
    world.setStatus(job.id, "skipped");
    await sender.flush();
    expect(statuses()).toEqual(["created", "manual", "skipped"]);
  });
});

describe("Job Hook shape by GitLab version", () => {
  it("has no project object and UTC-string times before 16.3", async () => {
    const { world, project, sender, clock } = setup({ profile: { version: "16.2", deployment: "self-managed" } });
    const job = world.createJob(project.id, { name: "build", status: "pending" });
    clock.advance(1500);
    world.start(job.id, RUNNER);
    await sender.flush();
    const body = receiver.received.at(-1)!.body;
    expect(body.project).toBeUndefined();
    expect(Object.keys(body).filter((k) => k.endsWith("_iso"))).toEqual([]);
    expect(body).toMatchObject({ project_id: project.id, project_name: "acme / platform / api", build_created_at: "2026-06-01 09:00:00 UTC", build_started_at: "2026-06-01 09:00:01 UTC", build_finished_at: null });
    expect((body.commit as Record<string, unknown>).started_at).toBe("2026-06-01 09:00:01 UTC");
  });

  it("has the project object and ISO times on current GitLab", async () => {
    const { world, project, sender } = setup();
    world.createJob(project.id, { name: "build", status: "pending" });
    await sender.flush();
    const body = receiver.received.at(-1)!.body;
    expect(body.project).toMatchObject({ id: project.id, path_with_namespace: "acme/platform/api" });
    expect(body.build_created_at_iso).toBe("2026-06-01T09:00:00Z");
  });
});
