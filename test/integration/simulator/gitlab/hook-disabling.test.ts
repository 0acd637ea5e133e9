import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, SELF_MANAGED, WebhookSender } from "../../../../src/simulator/gitlab/index.js";
import { startReceiver, type Receiver } from "./helpers.js";

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

function jobs(world: GitLabWorld, count: number): void {
  const project = world.project("acme/api") ?? world.addProject("acme/api");
  for (let i = 0; i < count; i++) world.createJob(project.id, { name: `job-${i}` });
}

describe("failing hooks", () => {
  it("are disabled after four failures in a row on GitLab.com, visible to the test, and re-enabled after the backoff", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 9));
    const world = new GitLabWorld({ now: clock.now });
    const sender = new WebhookSender(world);
    const hook = sender.addHook({ url: receiver.url, events: { job: true } });
    receiver.status = 422;
    receiver.received.length = 0;
    jobs(world, 6);
    await sender.flush();
    expect(receiver.received).toHaveLength(4);
    expect(sender.stats.skippedDisabled).toBe(2);
    const disabled = { uuid: hook.uuid, url: receiver.url, status: "temporarily_disabled", recentFailures: 4, disabledUntil: clock.now() + 60_000 };
    expect(sender.disabledHooks()).toEqual([disabled]);

    receiver.status = 200;
    clock.advance(60_001);
    expect(hook.status()).toBe("executable");
    jobs(world, 1);
    await sender.flush();
    expect(receiver.received).toHaveLength(5);
    expect(sender.disabledHooks()).toEqual([]);
    // Enabled again, but a test can still tell that it was disabled.
    expect(sender.everDisabled()).toEqual([disabled]);
    sender.detach();
  });

  it("are never disabled on a self-managed profile unless asked", async () => {
    const world = new GitLabWorld({ profile: SELF_MANAGED });
    const sender = new WebhookSender(world);
    sender.addHook({ url: receiver.url, events: { job: true } });
    receiver.status = 500;
    receiver.received.length = 0;
    jobs(world, 6);
    await sender.flush();
    expect(receiver.received).toHaveLength(6);
    expect(sender.disabledHooks()).toEqual([]);
    sender.detach();
    receiver.status = 200;
  });
});
