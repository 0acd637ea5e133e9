import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { jobSamples, webhookHarness } from "../helpers/webhook-harness.js";
import jobHook from "../fixtures/gitlab/job-hook.json" with { type: "json" };
import pipelineHook from "../fixtures/gitlab/pipeline-hook.json" with { type: "json" };

const SECRET = "fuzz-secret";
const RUNS = 10_000;
let inputs = 0;

afterAll(() => {
  console.log(`webhook fuzzing: ${inputs} deliveries tried`);
});

function harness() {
  return webhookHarness({ secret: SECRET, projects: [{ id: 380, path: "gitlab-org/gitlab-test" }, { id: pipelineHook.project.id, path: pipelineHook.project.path_with_namespace }] });
}

const jobFamilies = jobSamples;

/** Any JSON value, biased towards the shapes GitLab sends. */
const jsonValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string(),
  fc.constantFrom("created", "pending", "running", "success", "failed", "canceled", "skipped", "manual", "bogus"),
  fc.array(fc.string(), { maxLength: 3 }),
);

/** A documented payload with fields removed, replaced or added. */
function mutated(base: Record<string, unknown>) {
  const keys = Object.keys(base);
  return fc
    .record({
      remove: fc.subarray(keys, { maxLength: 4 }),
      replace: fc.dictionary(fc.constantFrom(...keys), jsonValue, { maxKeys: 4 }),
      add: fc.dictionary(fc.string({ maxLength: 8 }), jsonValue, { maxKeys: 2 }),
    })
    .map(({ remove, replace, add }) => {
      const copy: Record<string, unknown> = { ...base, ...add, ...replace };
      for (const key of remove) delete copy[key];
      return copy;
    });
}

const body = fc.oneof(
  mutated(jobHook as Record<string, unknown>).map((v) => JSON.stringify(v)),
  mutated(pipelineHook as Record<string, unknown>).map((v) => JSON.stringify(v)),
  fc.json(),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
  fc.constant("x".repeat(20_000)),
);

const headers = fc.record({
  "x-gitlab-token": fc.oneof(fc.constant(SECRET), fc.string({ maxLength: 20 }), fc.constant(SECRET + " ")),
  "x-gitlab-event": fc.oneof(fc.constantFrom("Job Hook", "Pipeline Hook", "Push Hook", "System Hook", ""), fc.string({ maxLength: 30 })),
  "content-type": fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"),
  "idempotency-key": fc.oneof(fc.uuid(), fc.constant("fixed-key")),
});

describe("webhook endpoint under fuzzing", () => {
  it(`never answers 5xx nor changes metrics on a rejected delivery (${RUNS} cases)`, async () => {
    const { app, registry } = harness();
    try {
      await fc.assert(
        fc.asyncProperty(body, headers, async (payload, head) => {
          inputs++;
          const before = await jobFamilies(registry);
          const response = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers: head, payload });
          expect(response.statusCode).toBeLessThan(500);
          if (response.statusCode >= 400) {
            expect(await jobFamilies(registry)).toBe(before);
            expect(response.json()).toHaveProperty("error");
          }
          if (head["x-gitlab-token"] !== SECRET) expect(response.statusCode).toBe(401);
        }),
        { numRuns: RUNS, seed: 20261124 },
      );
    } finally {
      await app.close();
    }
  });

  it(`accepts every authentic, well-formed transition and counts it once (${RUNS / 2} cases)`, async () => {
    const { app, registry } = harness();
    const finished = new Set<number>();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 400 }),
          fc.constantFrom("pending", "running", "success", "failed", "canceled"),
          fc.constantFrom("script_failure", "runner_system_failure", "stuck_or_timeout_failure"),
          async (id, status, reason) => {
            inputs++;
            const payload = { ...jobHook, build_id: id, build_status: status, build_failure_reason: reason, build_started_at: "2021-02-23T02:42:00Z", build_duration: 5 };
            const response = await app.inject({
              method: "POST",
              url: "/webhooks/gitlab",
              headers: { "x-gitlab-token": SECRET, "x-gitlab-event": "Job Hook", "content-type": "application/json" },
              payload: JSON.stringify(payload),
            });
            expect(response.statusCode).toBe(200);
            if (["success", "failed", "canceled"].includes(status)) finished.add(id);
          },
        ),
        { numRuns: RUNS / 2, seed: 7 },
      );
      const text = await registry.metrics();
      const counted = [...text.matchAll(/^gitlab_ci_jobs_finished_total\{[^}]*\} (\d+)$/gm)].reduce((total, m) => total + Number(m[1]), 0);
      expect(counted).toBe(finished.size);
    } finally {
      await app.close();
    }
  });
});
