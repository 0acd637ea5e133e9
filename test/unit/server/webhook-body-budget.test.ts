import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { webhookHarness } from "../../helpers/webhook-harness.js";
import jobHook from "../../fixtures/gitlab/job-hook.json" with { type: "json" };

const SECRET = "s3cret-webhook-token";
const MAX_BODY_BYTES = 16_384;
const MAX_INFLIGHT_BYTES = 20_000;
const HEADERS = { "content-type": "application/json", "x-gitlab-token": SECRET, "x-gitlab-event": "Job Hook" };

type Harness = ReturnType<typeof webhookHarness>;
const apps: Harness["app"][] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function harness(): Harness {
  const built = webhookHarness({ secret: SECRET, projects: [{ id: 380, path: "gitlab-org/gitlab-test" }], maxBodyBytes: MAX_BODY_BYTES, maxInflightBytes: MAX_INFLIGHT_BYTES });
  apps.push(built.app);
  return built;
}

/** A finished job's Job Hook, padded with JSON whitespace to exactly `bytes`. */
function finishedJob(id: number, bytes: number): string {
  const body = JSON.stringify({ ...jobHook, build_id: id, build_status: "success", build_started_at: "2021-02-23T02:42:00Z", build_duration: 5 });
  expect(bytes).toBeGreaterThanOrEqual(body.length);
  return body.padEnd(bytes, " ");
}

/** A delivery of known length whose body is sent half now, the rest when `finish` is called. */
function heldDelivery(app: Harness["app"], body: string) {
  const stream = new PassThrough();
  const answer = app.inject({ method: "POST", url: "/webhooks/gitlab", headers: { ...HEADERS, "content-length": String(body.length) }, payload: stream });
  stream.write(body.slice(0, body.length / 2));
  return { answer, finish: () => stream.end(body.slice(body.length / 2)) };
}

const finishedCount = async (registry: Harness["registry"]) =>
  [...(await registry.metrics()).matchAll(/^gitlab_ci_jobs_finished_total\{[^}]*\} (\d+)$/gm)].reduce((total, m) => total + Number(m[1]), 0);
const shedCount = async (registry: Harness["registry"]) => Number(/webhook_events_total\{event="Job Hook",outcome="shed"\} (\d+)/.exec(await registry.metrics())?.[1] ?? 0);

describe("webhook bodies in flight", () => {
  it("hold their declared length while read: a delivery that does not fit is answered 202 unread, counted shed; room comes back with each answer", async () => {
    const { app, registry } = harness();
    const first = heldDelivery(app, finishedJob(1, 15_000));
    await new Promise((resolve) => setImmediate(resolve));

    const second = finishedJob(2, 6_000);
    const shed = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers: HEADERS, payload: second });
    expect(shed.statusCode).toBe(202);
    expect(shed.json()).toEqual({ status: "shed", reason: expect.stringContaining("GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES") });
    expect(await shedCount(registry)).toBe(1);
    // Not read: its job is not counted.
    expect(await finishedCount(registry)).toBe(0);

    first.finish();
    expect((await first.answer).json()).toMatchObject({ status: "accepted" });
    const again = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers: HEADERS, payload: second });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: "accepted" });
    expect(await finishedCount(registry)).toBe(2);
  });

  it("of unknown length (chunked) are counted as they come, and shed when they outgrow the room left", async () => {
    const { app, registry } = harness();
    const first = heldDelivery(app, finishedJob(1, 15_000));
    await new Promise((resolve) => setImmediate(resolve));

    const chunked = new PassThrough();
    const answer = app.inject({ method: "POST", url: "/webhooks/gitlab", headers: HEADERS, payload: chunked });
    const body = finishedJob(3, 8_000);
    for (let i = 0; i < body.length; i += 1_000) chunked.write(body.slice(i, i + 1_000));
    chunked.end();
    const shed = await answer;
    expect(shed.statusCode).toBe(202);
    expect(shed.json()).toMatchObject({ status: "shed" });
    expect(await shedCount(registry)).toBe(1);

    first.finish();
    expect((await first.answer).statusCode).toBe(200);
    expect(await finishedCount(registry)).toBe(1);
  });

  it("leave a body over GITLAB_WEBHOOK_MAX_BODY_BYTES too large, not shed, and every byte goes back after each answer", async () => {
    const { app, registry } = harness();
    const tooLarge = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers: HEADERS, payload: finishedJob(1, MAX_BODY_BYTES + 1) });
    expect(tooLarge.json()).toMatchObject({ status: "too_large" });
    // One delivery after the other, each taking most of the room: none may find it still held.
    const outcomes = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const payload = i % 3 === 0 ? "{".padEnd(15_000, " ") : i % 3 === 1 ? finishedJob(100 + i, 15_000) : (() => {
        const stream = new PassThrough();
        stream.end(finishedJob(100 + i, 15_000));
        return stream;
      })();
      const response = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers: HEADERS, payload });
      expect(response.statusCode).toBe(200);
      outcomes.add((response.json() as { status: string }).status);
    }
    expect([...outcomes].sort()).toEqual(["accepted", "invalid"]);
    expect(await shedCount(registry)).toBe(0);
  });
});
