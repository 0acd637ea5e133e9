import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { Readable } from "node:stream";
import { eventLabel, KNOWN_EVENTS } from "../../src/sources/gitlab/webhook-source.js";
import { jobHookSchema, pipelineHookSchema } from "../../src/sources/gitlab/wire.js";
import { webhookHarness } from "../helpers/webhook-harness.js";
import jobHook from "../fixtures/gitlab/job-hook.json" with { type: "json" };
import pipelineHook from "../fixtures/gitlab/pipeline-hook.json" with { type: "json" };

/**
 * Webhook deliveries fuzzed in two properties, so that each reaches what it is meant to test:
 * payloads always authenticate and mutate the documented Job Hook and Pipeline Hook payloads,
 * so nearly every case reaches the payload validator; headers vary alone around a valid body.
 * No case may answer 5xx or crash; a refused delivery changes no metric but its own count in
 * gitlab_ci_exporter_webhook_events_total; an accepted one changes only its project's series.
 */
const SECRET = "fuzz-secret";
const PAYLOAD_RUNS = 11_000;
const MIN_VALIDATED = 10_000;
const HEADER_RUNS = 5_000;
const TRANSITION_RUNS = 5_000;
const ANY_RUNS = 4_000;

const JOB_PROJECT = { id: 380, path: "gitlab-org/gitlab-test" };
const PIPELINE_PROJECT = { id: pipelineHook.project.id, path: "gitlab-org/pipeline-test" };
const PROJECT_PATHS = new Map([JOB_PROJECT, PIPELINE_PROJECT].map((p) => [p.id, p.path]));

const counts = { payloads: 0, validated: 0, jobHook: 0, pipelineHook: 0, accepted: 0, headers: 0, authentic: 0, headersValidated: 0, transitions: 0, any: 0 };

afterAll(() => {
  console.log(
    `webhook fuzzing: ${counts.payloads + counts.headers + counts.transitions + counts.any} deliveries tried; ` +
      `payloads: ${counts.payloads} tried, ${counts.validated} reached the payload validator (${counts.jobHook} Job Hook, ${counts.pipelineHook} Pipeline Hook), ${counts.accepted} accepted; ` +
      `headers: ${counts.headers} tried, ${counts.authentic} authentic, ${counts.headersValidated} reached the payload validator; ` +
      `valid transitions: ${counts.transitions} tried; any delivery: ${counts.any} tried`,
  );
});

function harness() {
  return webhookHarness({ secret: SECRET, projects: [JOB_PROJECT, PIPELINE_PROJECT] });
}

/** Calls of each payload validator, as the webhook source makes them. */
function validatorCalls() {
  const job = vi.spyOn(jobHookSchema, "safeParse");
  const pipeline = vi.spyOn(pipelineHookSchema, "safeParse");
  return { job: () => job.mock.calls.length, pipeline: () => pipeline.mock.calls.length };
}
afterEach(() => {
  vi.restoreAllMocks();
});

/** The exporter's own samples (not the process ones, which move by themselves), by series. */
async function exporterSamples(exposition: { metrics(): Promise<string> }): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  for (const line of (await exposition.metrics()).split("\n")) {
    if (!line.startsWith("gitlab_ci_")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

function changes(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const changed = new Map<string, number>();
  for (const [series, value] of after) if (before.get(series) !== value) changed.set(series, value - (before.get(series) ?? 0));
  for (const series of before.keys()) if (!after.has(series)) changed.set(series, NaN);
  return changed;
}

const projectOf = (series: string) => /project="((?:[^"\\]|\\.)*)"/.exec(series)?.[1];
const eventCount = (event: string, outcome: string) => `gitlab_ci_exporter_webhook_events_total{event="${event}",outcome="${outcome}"}`;

/** Refused: the only change is one more delivery counted with that outcome. */
function expectOnlyCounted(changed: Map<string, number>, event: string, outcome: string): void {
  expect([...changed]).toEqual([[eventCount(event, outcome), 1]]);
}

// ---------------------------------------------------------------------------------------------
// Payloads

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = ReadonlyArray<string | number>;

/** Every path to a value of the document, the root included. */
function pathsOf(value: Json, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => paths.push(...pathsOf(item, [...prefix, i])));
  else if (value !== null && typeof value === "object") for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...prefix, key]));
  return paths;
}

/** The fields the validators read, mutated more often than the rest. */
const JOB_FIELDS: Path[] = [
  ["object_kind"],
  ["build_id"],
  ["build_status"],
  ["build_started_at"],
  ["build_duration"],
  ["build_queued_duration"],
  ["build_failure_reason"],
  ["project_id"],
  ["project"],
  ["project", "id"],
  ["project", "path_with_namespace"],
  ["runner"],
  ["runner", "description"],
  ["runner", "tags"],
  ["runner", "tags", 0],
];
const PIPELINE_FIELDS: Path[] = [
  ["object_kind"],
  ["object_attributes"],
  ["object_attributes", "id"],
  ["object_attributes", "status"],
  ["project"],
  ["project", "id"],
  ["project", "path_with_namespace"],
  ["builds"],
  ...[0, 1, 4].flatMap((i): Path[] => [
    ["builds", i],
    ["builds", i, "id"],
    ["builds", i, "status"],
    ["builds", i, "started_at"],
    ["builds", i, "duration"],
    ["builds", i, "queued_duration"],
    ["builds", i, "failure_reason"],
    ["builds", i, "runner"],
    ["builds", i, "runner", "tags"],
  ]),
];

/**
 * Deep nesting stands in the document as a marker string, written out only in the body's text:
 * cloning or serialising thousands of levels would overflow the test's own stack.
 */
const NESTING = /"__deep_nesting_(\d+)_(object|array)__"/g;
const nested = (depth: number, kind: "object" | "array"): Json => `__deep_nesting_${depth}_${kind}__`;
const writeNesting = (body: string) =>
  body.replace(NESTING, (_m, depth: string, kind: string) => (kind === "object" ? '{"a":'.repeat(Number(depth)) + "null" + "}".repeat(Number(depth)) : "[".repeat(Number(depth)) + "1" + "]".repeat(Number(depth))));

const SPECIAL_NUMBERS = [0, -0, -1, 0.5, 1e-7, 5e-324, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e21, 1.7976931348623157e308, -1.7976931348623157e308];
const SPECIAL_STRINGS = [
  "",
  " ",
  "\u0000",
  "\ud800",
  "\udfff\ud800",
  "\u202eRTL override",
  "🚀".repeat(64),
  "ﷺ",
  "e\u0301\u0301\u0301",
  "a".repeat(5_000),
  "null",
  "NaN",
  "Infinity",
  "1e400",
  "0x10",
  "2016-08-12 15:23:28 UTC",
  "2021-02-23T02:42:00Z",
  "9999-99-99T99:99:99Z",
  "-271821-04-20T00:00:00Z",
  "success",
  "failed",
  "pending",
  "running",
  "bogus",
  "SUCCESS",
  "build",
  "pipeline",
  "__proto__",
];

/** Values of every kind, hostile ones favoured. */
const hostile: fc.Arbitrary<Json> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_NUMBERS) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40, unit: "grapheme" }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: "binary" }) },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.record({ depth: fc.integer({ min: 20, max: 2_000 }), kind: fc.constantFrom("object" as const, "array" as const) }).map(({ depth, kind }) => nested(depth, kind)) },
  // A subtree of the other payload: a pipeline's builds in a job hook, a job hook as a build.
  { weight: 1, arbitrary: fc.constantFrom<Json>(pipelineHook.builds as Json, pipelineHook.project as Json, jobHook as Json, jobHook.runner as Json) },
);

type Mutation =
  | { readonly op: "remove"; readonly path: Path }
  | { readonly op: "replace"; readonly path: Path; readonly value: Json }
  | { readonly op: "add"; readonly path: Path; readonly key: string; readonly value: Json };

function mutation(fields: Path[], all: Path[]): fc.Arbitrary<Mutation> {
  const path = fc.oneof(fc.constantFrom(...fields), fc.constantFrom(...all));
  return fc.oneof(
    fc.record({ op: fc.constant("remove" as const), path }),
    fc.record({ op: fc.constant("replace" as const), path, value: hostile }),
    fc.record({ op: fc.constant("replace" as const), path, value: hostile }),
    fc.record({ op: fc.constant("add" as const), path, key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("build_id", "id", "status", "tags", "constructor", "prototype")), value: hostile }),
  );
}

function apply(document: Json, original: Mutation): Json {
  // Values may be shared subtrees (the fixtures themselves): insert copies.
  const change = original.op === "remove" ? original : { ...original, value: structuredClone(original.value) };
  if (change.path.length === 0) {
    if (change.op === "replace") return change.value;
    if (change.op === "add" && document !== null && typeof document === "object" && !Array.isArray(document)) document[change.key] = change.value;
    return change.op === "remove" ? {} : document;
  }
  let parent: Json = document;
  for (const step of change.path.slice(0, -1)) {
    if (parent === null || typeof parent !== "object") return document;
    parent = (parent as Record<string | number, Json>)[step] ?? null;
  }
  if (parent === null || typeof parent !== "object") return document;
  const last = change.path.at(-1)!;
  const container = parent as Record<string | number, Json>;
  if (change.op === "remove") {
    if (Array.isArray(parent) && typeof last === "number") parent.splice(last, 1);
    else delete container[last];
  } else if (change.op === "replace") container[last] = change.value;
  else {
    const target = container[last];
    if (Array.isArray(target)) target.push(change.value);
    else if (target !== null && typeof target === "object") target[change.key] = change.value;
    else container[last] = { [change.key]: change.value };
  }
  return document;
}

/** Number literals JSON.stringify cannot write: beyond double range, beyond 2^64, exponents. */
const RAW_NUMBERS = ["1e400", "-1e400", "123456789012345678901234567890", "1E2", "0.0000000000000000000000001", "-0", "1.0"];

let nextJobId = 1_000_000;
let nextKey = 0;

interface PayloadCase {
  readonly kind: "Job Hook" | "Pipeline Hook";
  readonly header: string;
  readonly body: string;
  readonly idempotencyKey: string | undefined;
  readonly contentType: string;
}

function payloadCase(kind: "Job Hook" | "Pipeline Hook"): fc.Arbitrary<PayloadCase> {
  const base = (kind === "Job Hook" ? jobHook : pipelineHook) as unknown as Json;
  const fields = kind === "Job Hook" ? JOB_FIELDS : PIPELINE_FIELDS;
  const all = pathsOf(base);
  const numeric = all.filter((path) => typeof path.reduce<unknown>((v, step) => (v as Record<string | number, unknown>)?.[step], base) === "number");
  return fc
    .record({
      mutations: fc.array(mutation(fields, all), { minLength: 0, maxLength: 5 }),
      raw: fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ path: fc.constantFrom(...numeric), literal: fc.constantFrom(...RAW_NUMBERS) }) }),
      truncateAt: fc.oneof({ weight: 15, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }),
      // Now and then a header naming the other kind: that validator must cope with this payload.
      crossed: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      keyed: fc.boolean(),
      contentType: fc.constantFrom("application/json", "application/json; charset=utf-8"),
    })
    .map(({ mutations, raw, truncateAt, crossed, keyed, contentType }) => {
      // Fresh job ids, so that deliveries are new transitions rather than repeats of one job.
      const document = structuredClone(base) as Record<string, Json>;
      if (kind === "Job Hook") document.build_id = nextJobId++;
      else for (const build of document.builds as Array<Record<string, Json>>) build.id = nextJobId++;
      let mutated: Json = document;
      for (const change of mutations) mutated = apply(mutated, change);
      let body = JSON.stringify(mutated) ?? "null";
      if (raw) {
        const marker = `"__raw_number_marker__"`;
        const withMarker = JSON.stringify(apply(JSON.parse(body) as Json, { op: "replace", path: raw.path, value: "__raw_number_marker__" }));
        if (withMarker.includes(marker)) body = withMarker.replace(marker, raw.literal);
      }
      body = writeNesting(body);
      if (truncateAt !== null) body = body.slice(0, Math.floor(body.length * truncateAt));
      const header = crossed ? (kind === "Job Hook" ? "Pipeline Hook" : "Job Hook") : kind;
      return { kind, header, body, idempotencyKey: keyed ? `fuzz-${nextKey++}` : undefined, contentType };
    });
}

/** What an accepted delivery may change: its own project's job series, finishing at most its finished jobs, and its pipeline once when final. */
function expectAcceptedChanges(changed: Map<string, number>, delivery: Pick<PayloadCase, "header" | "body">): void {
  const sent = JSON.parse(delivery.body) as Record<string, unknown>;
  const projectId = delivery.header === "Job Hook" ? sent.project_id : (sent.project as Record<string, unknown>).id;
  const project = PROJECT_PATHS.get(projectId as number);
  expect(project, "an accepted delivery is for a watched project").toBeDefined();
  const builds = delivery.header === "Job Hook" ? [{ status: sent.build_status }] : ((sent.builds as Array<Record<string, unknown>> | undefined) ?? []);
  const finishable = builds.filter((b) => ["success", "failed", "canceled"].includes(b.status as string)).length;
  const attributes = delivery.header === "Pipeline Hook" ? (sent.object_attributes as Record<string, unknown>) : undefined;
  const pipelineFinal = attributes !== undefined && ["success", "failed", "canceled", "skipped"].includes(attributes.status as string);
  let finished = 0;
  let pipelinesFinished = 0;
  for (const [series, delta] of changed) {
    if (series.startsWith("gitlab_ci_exporter_webhook_events_total")) {
      expect(series).toBe(eventCount(delivery.header, "accepted"));
      expect(delta).toBe(1);
      continue;
    }
    expect(series.startsWith("gitlab_ci_job") || series.startsWith("gitlab_ci_pipelines_finished_total"), series).toBe(true);
    expect(projectOf(series), series).toBe(project);
    if (series.startsWith("gitlab_ci_jobs_finished_total")) finished += delta;
    if (series.startsWith("gitlab_ci_pipelines_finished_total")) pipelinesFinished += delta;
  }
  expect(finished).toBeLessThanOrEqual(finishable);
  // Its own pipeline, once, and only in a final status.
  expect(pipelinesFinished).toBeLessThanOrEqual(pipelineFinal ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Headers

/** A header name in one of the spellings clients send; HTTP makes names case-insensitive. */
const spelled = (name: string) => fc.constantFrom(name, name.toUpperCase(), name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()));

const latin1 = fc.string({ maxLength: 40, unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) });
const oddValue = fc.oneof(
  fc.constant(""),
  latin1,
  fc.string({ maxLength: 20, unit: "grapheme" }),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.constantFrom("\t", " padded ", "\u00ff\u00fe", "é", "☃", "\r\n", "null", "undefined"),
);

const tokenValue = fc.oneof(
  { weight: 6, arbitrary: fc.constant(SECRET) },
  { weight: 1, arbitrary: fc.constantFrom(` ${SECRET}`, `${SECRET} `, `${SECRET}\t`, SECRET.toUpperCase(), SECRET.slice(0, -1), `${SECRET}x`, `Bearer ${SECRET}`, `${SECRET},${SECRET}`) },
  { weight: 2, arbitrary: oddValue },
);
const eventValue = fc.oneof(
  { weight: 6, arbitrary: fc.constant("Job Hook") },
  { weight: 1, arbitrary: fc.constantFrom("job hook", "JOB HOOK", "Job  Hook", " Job Hook", "Job Hook ", "Pipeline Hook", "Push Hook", "System Hook", "Build Hook") },
  { weight: 1, arbitrary: oddValue },
);
const contentTypeValue = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "Application/JSON",
      "application/json; charset=utf-8",
      "application/json;charset=latin1",
      "application/json; boundary=x",
      "text/plain",
      "text/html",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonp",
      "application/problem+json",
      "*/*",
    ),
  },
  { weight: 1, arbitrary: oddValue },
);

const absentOr = <T>(value: fc.Arbitrary<T>, absentWeight = 1) => fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 8, arbitrary: value });

const headerCase = fc.record({
  token: fc.tuple(spelled("x-gitlab-token"), absentOr(tokenValue)),
  event: fc.tuple(spelled("x-gitlab-event"), absentOr(eventValue)),
  contentType: fc.tuple(spelled("content-type"), absentOr(contentTypeValue)),
  idempotencyKey: fc.tuple(spelled("idempotency-key"), absentOr(oddValue, 8)),
  extra: fc.dictionary(
    fc.stringMatching(/^x-[a-z0-9-]{1,20}$/).filter((name) => !["x-gitlab-token", "x-gitlab-event"].includes(name)),
    oddValue,
    { maxKeys: 3 },
  ),
});

// ---------------------------------------------------------------------------------------------

describe("webhook payloads under fuzzing", () => {
  it(`answers every authentic Job Hook and Pipeline Hook payload below 500, changing no metric when refused (${PAYLOAD_RUNS} cases)`, async () => {
    const { app, registry } = harness();
    const calls = validatorCalls();
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(payloadCase("Job Hook"), payloadCase("Pipeline Hook")), async (delivery) => {
          counts.payloads++;
          const before = await exporterSamples(registry);
          const validatedBefore = calls.job() + calls.pipeline();
          const response = await app.inject({
            method: "POST",
            url: "/webhooks/gitlab",
            headers: { "x-gitlab-token": SECRET, "x-gitlab-event": delivery.header, "content-type": delivery.contentType, ...(delivery.idempotencyKey ? { "idempotency-key": delivery.idempotencyKey } : {}) },
            payload: delivery.body,
          });
          const validated = calls.job() + calls.pipeline() - validatedBefore;
          expect(validated).toBeLessThanOrEqual(1);
          if (validated === 1) {
            counts.validated++;
            if (delivery.header === "Job Hook") counts.jobHook++;
            else counts.pipelineHook++;
          }
          // Every authentic delivery is acknowledged: GitLab disables a hook that keeps failing.
          expect(response.statusCode).toBe(200);
          const answer = response.json() as { status?: string; reason?: string };
          const changed = changes(before, await exporterSamples(registry));
          if (answer.status === "invalid" || answer.status === "too_large") {
            expect(answer.reason).toEqual(expect.any(String));
            expectOnlyCounted(changed, delivery.header, answer.status);
            return;
          }
          // Only a payload the validator passed can be taken in.
          expect(validated).toBe(1);
          if (answer.status === "accepted") {
            counts.accepted++;
            expectAcceptedChanges(changed, delivery);
          } else {
            expect(["ignored", "duplicate"]).toContain(answer.status);
            expectOnlyCounted(changed, delivery.header, answer.status!);
          }
        }),
        { numRuns: PAYLOAD_RUNS, seed: 20261124 },
      );
      // The property is about the validator: nearly every case must get there.
      expect(counts.validated).toBeGreaterThanOrEqual(MIN_VALIDATED);
      expect(counts.jobHook).toBeGreaterThan(MIN_VALIDATED / 3);
      expect(counts.pipelineHook).toBeGreaterThan(MIN_VALIDATED / 3);
      expect(counts.accepted).toBeGreaterThan(100);
    } finally {
      await app.close();
    }
  }, 300_000);
});

describe("webhook headers under fuzzing", () => {
  it(`refuses every delivery without the exact secret, and never answers 5xx (${HEADER_RUNS} cases)`, async () => {
    const { app, registry } = harness();
    const calls = validatorCalls();
    try {
      await fc.assert(
        fc.asyncProperty(headerCase, async (head) => {
          counts.headers++;
          const headers: Record<string, string> = { ...head.extra };
          for (const [name, value] of [head.token, head.event, head.contentType, head.idempotencyKey]) if (value !== undefined) headers[name] = value;
          const before = await exporterSamples(registry);
          const validatedBefore = calls.job() + calls.pipeline();
          const body = JSON.stringify({ ...jobHook, build_id: nextJobId++, build_status: "success" });
          const response = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers, payload: body });
          const validated = calls.job() + calls.pipeline() - validatedBefore;
          counts.headersValidated += validated;
          expect(response.statusCode).toBeLessThan(500);
          const answer = response.json() as { status?: string; error?: string };
          const changed = changes(before, await exporterSamples(registry));
          const event = head.event[1];
          const label = eventLabel(event);

          if (head.token[1] !== SECRET) {
            expect(response.statusCode).toBe(401);
            expect(validated).toBe(0);
            expectOnlyCounted(changed, label, "unauthorized");
            return;
          }
          counts.authentic++;
          // Authentic: acknowledged whatever its headers say, so GitLab keeps the hook enabled.
          expect(response.statusCode).toBe(200);
          if (answer.status === "invalid") {
            expect((answer as { reason?: string }).reason).toEqual(expect.any(String));
            expectOnlyCounted(changed, label, "invalid");
            return;
          }
          if (event === "Job Hook" || event === "Pipeline Hook") {
            // A Job Hook body is no Pipeline Hook: under that name it can only be a repeated key.
            expect(event === "Job Hook" ? ["accepted", "duplicate"] : ["duplicate"]).toContain(answer.status);
            if (answer.status === "accepted") {
              expect(validated).toBe(1);
              expectAcceptedChanges(changed, { header: "Job Hook", body });
            } else {
              expect(validated).toBe(0);
              expectOnlyCounted(changed, label, "duplicate");
            }
          } else {
            // Any other event is acknowledged, unread.
            expect(answer.status).toBe("ignored");
            expect(validated).toBe(0);
            expectOnlyCounted(changed, label, "ignored");
          }
          // The documented delivery, whatever the spelling of the header names, is taken in.
          if (event === "Job Hook" && head.contentType[1] === "application/json" && head.idempotencyKey[1] === undefined) expect(answer.status).toBe("accepted");
        }),
        { numRuns: HEADER_RUNS, seed: 7_202_611 },
      );
      expect(counts.authentic).toBeGreaterThan(HEADER_RUNS / 4);
      expect(counts.authentic).toBeLessThan(HEADER_RUNS);
    } finally {
      await app.close();
    }
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
// Any body

const MAX_BODY_BYTES = 16_384;

/** Bodies of every shape: any JSON value, JSON-like text, bytes, nothing, more than the limit. */
const anyBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value) ?? "null") },
  // A Job Hook's or Pipeline Hook's keys with values of any shape.
  { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...Object.keys(jobHook), ...Object.keys(pipelineHook)), fc.jsonValue({ maxDepth: 3 })).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: "binary" }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "\ufeff{}", "{", "[", "nul", "1e400", '{"__proto__":{"polluted":1}}', '{"a":1,"a":2}', "\u0000") },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((over) => `{"pad":"${"x".repeat(MAX_BODY_BYTES + over * 1000)}"}`) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 5_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)) },
);

/** Content types as clients send them, right, odd and wrong. */
const anyContentType = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8", "APPLICATION/JSON") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/json; charset=utf-16", "application/vnd.api+json", "*/*", "", ";", "json"),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{1,10}\/[a-z+.-]{1,12}(; ?[a-z]{1,8}=[a-z0-9-]{0,8})?$/) },
  { weight: 1, arbitrary: latin1 },
);

const anyDelivery = fc.record({
  token: fc.oneof({ weight: 3, arbitrary: fc.constant<string | undefined>(SECRET) }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: latin1.filter((t) => t !== SECRET) }),
  event: absentOr(fc.oneof(fc.constantFrom(...KNOWN_EVENTS), latin1), 2),
  contentType: absentOr(anyContentType),
  contentEncoding: absentOr(fc.constantFrom("gzip", "deflate", "br", "identity", "x-unknown"), 10),
  idempotencyKey: absentOr(latin1, 4),
  body: anyBody,
  // Sent without Content-Length, as a chunked stream, now and then.
  chunked: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
});

describe("any delivery under fuzzing", () => {
  it(`answers every authentic delivery 2xx whatever its body, content type or event, and any other 401 (${ANY_RUNS} cases)`, async () => {
    const { app } = harness();
    const statuses = new Map<number, number>();
    const outcomes = new Map<string, number>();
    try {
      await fc.assert(
        fc.asyncProperty(anyDelivery, async (delivery) => {
          counts.any++;
          const headers: Record<string, string> = {};
          if (delivery.token !== undefined) headers["x-gitlab-token"] = delivery.token;
          if (delivery.event !== undefined) headers["x-gitlab-event"] = delivery.event;
          if (delivery.contentType !== undefined) headers["content-type"] = delivery.contentType;
          if (delivery.contentEncoding !== undefined) headers["content-encoding"] = delivery.contentEncoding;
          if (delivery.idempotencyKey !== undefined) headers["idempotency-key"] = delivery.idempotencyKey;
          const payload = delivery.chunked ? Readable.from([Buffer.from(delivery.body)]) : delivery.body;
          const response = await app.inject({ method: "POST", url: "/webhooks/gitlab", headers, payload });
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          if (delivery.token === SECRET) {
            // GitLab disables a hook after failures: an authentic delivery must never get one.
            expect(response.statusCode, response.body).toBeGreaterThanOrEqual(200);
            expect(response.statusCode, response.body).toBeLessThan(300);
            const { status } = response.json() as { status: string };
            outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
          } else {
            expect(response.statusCode, response.body).toBe(401);
          }
        }),
        { numRuns: ANY_RUNS, seed: 16_2026 },
      );
      // The generator reached what it is meant to: both sides, every kind of answer.
      expect(statuses.get(401)).toBeGreaterThan(ANY_RUNS / 10);
      expect(statuses.get(200)).toBeGreaterThan(ANY_RUNS / 2);
      for (const outcome of ["invalid", "too_large", "ignored"]) expect(outcomes.get(outcome) ?? 0, `${outcome}: ${JSON.stringify([...outcomes])}`).toBeGreaterThan(10);
    } finally {
      await app.close();
    }
  }, 300_000);
});

describe("valid transitions under fuzzing", () => {
  it(`accepts every authentic, well-formed transition and counts it once (${TRANSITION_RUNS} cases)`, async () => {
    const { app, registry } = harness();
    const finished = new Set<number>();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 400 }),
          fc.constantFrom("pending", "running", "success", "failed", "canceled"),
          fc.constantFrom("script_failure", "runner_system_failure", "stuck_or_timeout_failure"),
          async (id, status, reason) => {
            counts.transitions++;
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
        { numRuns: TRANSITION_RUNS, seed: 7 },
      );
      const text = await registry.metrics();
      const counted = [...text.matchAll(/^gitlab_ci_jobs_finished_total\{[^}]*\} (\d+)$/gm)].reduce((total, m) => total + Number(m[1]), 0);
      expect(counted).toBe(finished.size);
    } finally {
      await app.close();
    }
  });
});
