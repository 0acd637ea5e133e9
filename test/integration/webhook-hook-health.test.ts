import { describe, expect, it } from "vitest";
import { GitLabWorld } from "../../src/simulator/gitlab/index.js";
import { startStack, waitReady } from "../helpers/stack.js";

const SECRET = "hook-secret";

/** Six jobs created: six Job Hooks, enough for GitLab to disable a hook that fails them all. */
function sixJobs(world: GitLabWorld): void {
  const project = world.project("acme/api") ?? world.addProject("acme/api");
  for (let i = 0; i < 6; i++) world.createJob(project.id, { name: `job-${i}`, tags: ["docker"], status: "pending" });
}

describe("the stack's check that GitLab never disables the exporter's hook", () => {
  it("fails the test when the hook was disabled, naming the answers that did it", async () => {
    const world = new GitLabWorld();
    world.addProject("acme/api");
    const stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: SECRET } });
    await waitReady(stack);
    // A hook with another token: 401 is the one answer an authentic delivery never gets.
    const sender = stack.webhooks({ token: "not-the-secret", events: { job: true } });
    sixJobs(world);
    await sender.flush();
    expect(sender.disabledHooks()).toHaveLength(1);
    await expect(stack.close()).rejects.toThrow(/would have disabled the exporter's webhook .*temporarily_disabled after 4 failures in a row .*4× 401/);
  });

  it("lets a test about disabling opt out", async () => {
    const world = new GitLabWorld();
    world.addProject("acme/api");
    const stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: SECRET }, allowDisabledHooks: true });
    await waitReady(stack);
    const sender = stack.webhooks({ token: "not-the-secret", events: { job: true } });
    sixJobs(world);
    await sender.flush();
    expect(sender.everDisabled()).toHaveLength(1);
    await expect(stack.close()).resolves.toBeUndefined();
  });

  it("passes when every delivery was answered 2xx, across a restart", async () => {
    const world = new GitLabWorld();
    world.addProject("acme/api");
    const stack = await startStack({ world, env: { GITLAB_GROUPS: "acme", GITLAB_WEBHOOK_SECRET: SECRET } });
    await waitReady(stack);
    const sender = stack.webhooks({ events: { job: true } });
    sixJobs(world);
    await sender.flush();
    await stack.restartExporter();
    sixJobs(world);
    await sender.flush();
    // Every delivery reached the exporter running at the time, and was acknowledged.
    expect([...sender.stats.statuses.keys()]).toEqual([200]);
    expect(sender.stats.sent).toBeGreaterThanOrEqual(12);
    expect(sender.stats.failed).toBe(0);
    await expect(stack.close()).resolves.toBeUndefined();
  });
});
