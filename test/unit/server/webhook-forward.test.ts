import { afterEach, describe, expect, it } from "vitest";
import { WebhookForwarder, type ForwarderOptions, type ShardRouting } from "../../../src/server/webhook-forward.js";
import type { WebhookShards } from "../../../src/server/webhooks.js";
import { freePort } from "../../helpers/exporter-process.js";
import { eventually } from "../../helpers/prom.js";
import { webhookHarness } from "../../helpers/webhook-harness.js";
import jobHook from "../../fixtures/gitlab/job-hook.json" with { type: "json" };

/**
 * Two replicas of two shards on loopback: "here" receives deliveries, project 380 (the Job Hook
 * fixture's) belongs to the other shard, whose replica listens at `owner`.
 */
const SECRET = "s3cret-webhook-token";
const PROJECTS = [{ id: 380, path: "gitlab-org/gitlab-test" }];
const finished = { ...jobHook, build_id: 5001, build_status: "success", build_started_at: "2021-02-23T02:42:00Z", build_duration: 30.5, build_finished_at: "2021-02-23T02:43:00Z" };

const apps: Array<{ close(): Promise<unknown> }> = [];
const forwarders: WebhookForwarder[] = [];
afterEach(async () => {
  for (const forwarder of forwarders.splice(0)) forwarder.close();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function routing(shard: number, peers: string[], active = () => true): ShardRouting {
  return { shardOf: () => 1, shard, active, peersOf: (s) => (s === shard ? [] : peers) };
}

/** The replica receiving deliveries: shard 0, forwarding project 380's to `peers`. */
function receiver(peers: string[], options: Partial<ForwarderOptions> = {}) {
  const route = routing(0, peers);
  const forwarder = new WebhookForwarder(route, { timeoutMs: 1000, self: "exporter-0", holdMs: 2000, maxHeldBytes: 1 << 20, retryEveryMs: 50, ...options });
  forwarders.push(forwarder);
  const outcomes: string[] = [];
  const shards: WebhookShards = { routing: route, forwarder, forwarded: (outcome) => outcomes.push(outcome) };
  const harness = webhookHarness({ secret: SECRET, projects: [], shards });
  apps.push(harness.app);
  return { ...harness, outcomes };
}

/** The replica of shard 1 that applies project 380's deliveries, listening on `port`. */
async function owner(port: number, options: { active?: boolean; secret?: string } = {}) {
  const route = routing(1, [], () => options.active ?? true);
  const harness = webhookHarness({ secret: options.secret ?? SECRET, projects: PROJECTS, shards: { routing: route, forwarder: new WebhookForwarder(route, { timeoutMs: 500, self: "exporter-1", holdMs: 0, maxHeldBytes: 0, retryEveryMs: 1000 }), forwarded: () => undefined } });
  apps.push(harness.app);
  await harness.app.listen({ host: "127.0.0.1", port });
  return harness;
}

const post = (app: ReturnType<typeof receiver>["app"], token = SECRET) =>
  app.inject({ method: "POST", url: "/webhooks/gitlab", headers: { "content-type": "application/json", "x-gitlab-token": token, "x-gitlab-event": "Job Hook", "idempotency-key": "k-1" }, payload: JSON.stringify(finished) });

const finishedCount = async (harness: { registry: { metrics(): Promise<string> } }) => {
  const line = (await harness.registry.metrics()).split("\n").find((l) => l.startsWith("gitlab_ci_jobs_finished_total{"));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
};
const events = async (harness: { registry: { metrics(): Promise<string> } }) => (await harness.registry.metrics()).split("\n").filter((l) => l.startsWith("gitlab_ci_exporter_webhook_events_total{"));

describe("a delivery for another shard's project", () => {
  it("is applied by that shard's replica, with GitLab's headers, and answered 200 once it was; counted there only", async () => {
    const port = await freePort();
    const applier = await owner(port);
    const here = receiver([`http://127.0.0.1:${port}`]);
    const answer = await post(here.app);
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ status: "forwarded" });
    expect(await finishedCount(applier)).toBe(1);
    expect(await finishedCount(here)).toBe(0);
    expect(await events(applier)).toEqual(['gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="accepted"} 1']);
    expect(await events(here)).toEqual([]);
    expect(here.outcomes).toEqual(["delivered"]);
    // GitLab's retry of the same delivery (its Idempotency-Key) is known where it was applied.
    expect((await post(here.app)).json()).toMatchObject({ status: "forwarded" });
    expect(await events(applier)).toEqual(['gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="accepted"} 1', 'gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="duplicate"} 1']);
    expect(await finishedCount(applier)).toBe(1);
  });

  it("is refused with 421 by a standby, unapplied and uncounted, and tried at the shard's next replica", async () => {
    const [standbyPort, activePort] = [await freePort(), await freePort()];
    const standby = await owner(standbyPort, { active: false });
    const active = await owner(activePort);
    const here = receiver([`http://127.0.0.1:${standbyPort}`, `http://127.0.0.1:${activePort}`]);
    expect((await post(here.app)).json()).toMatchObject({ status: "forwarded" });
    expect(await finishedCount(standby)).toBe(0);
    expect(await events(standby)).toEqual([]);
    expect(await finishedCount(active)).toBe(1);
  });

  it("is held while its shard does not answer, answered 202 at once, and applied once its replica is back", async () => {
    const port = await freePort();
    const here = receiver([`http://127.0.0.1:${port}`]);
    const answer = await post(here.app);
    expect(answer.statusCode).toBe(202);
    expect(answer.json()).toMatchObject({ status: "queued" });
    const applier = await owner(port);
    await eventually(async () => expect(await finishedCount(applier)).toBe(1), 2000, 20);
    // The owner applies it before its answer reaches the forwarder, which records the outcome then.
    await eventually(async () => expect(here.outcomes).toEqual(["delivered"]), 2000, 20);
    expect(await events(here)).toEqual([]);
  });

  it("is counted as unforwarded where it arrived when its shard never answers, or too much waits already", async () => {
    const port = await freePort();
    const here = receiver([`http://127.0.0.1:${port}`], { holdMs: 200 });
    expect((await post(here.app)).statusCode).toBe(202);
    await eventually(async () => expect(await events(here)).toEqual(['gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="unforwarded"} 1']), 2000, 20);
    expect(here.outcomes).toEqual(["failed"]);

    const full = receiver([`http://127.0.0.1:${port}`], { maxHeldBytes: 10 });
    const answer = await post(full.app);
    expect(answer.statusCode).toBe(202);
    expect(answer.json()).toMatchObject({ status: "unforwarded" });
    expect(await events(full)).toEqual(['gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="unforwarded"} 1']);
  });

  it("carries GitLab's token, which the applying replica checks again", async () => {
    const port = await freePort();
    const applier = await owner(port, { secret: "another-secret" });
    const here = receiver([`http://127.0.0.1:${port}`], { holdMs: 100 });
    expect((await post(here.app)).statusCode).toBe(202);
    expect(await finishedCount(applier)).toBe(0);
    expect(await events(applier)).toEqual(['gitlab_ci_exporter_webhook_events_total{event="Job Hook",outcome="unauthorized"} 1']);
    // A wrong token where it arrives is refused there, before anything is forwarded.
    expect((await post(here.app, "wrong")).statusCode).toBe(401);
  });
});
