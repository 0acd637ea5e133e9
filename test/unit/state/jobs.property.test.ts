import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_JOB_SECONDS, SKEW_TOLERANCE_SECONDS } from "../../../src/domain/plausibility.js";
import type { Rejections } from "../../../src/lib/rejections.js";
import { HistogramFamily } from "../../../src/metrics/exposition/series.js";
import { jobHookSchema, observeJobHook, observePipelineHook, observeRestJob, pipelineHookSchema, restJobSchema } from "../../../src/sources/gitlab/wire.js";
import type { JobFinished, JobStarted } from "../../../src/domain/events.js";
import { JobStore } from "../../../src/state/jobs.js";

/**
 * Random runs of finished jobs, each reported by a Job Hook, a Pipeline Hook or a REST read, with
 * timestamps and durations both valid and absurd, go through the wire parsing into the job
 * store. Whatever the absurd ones say, the counts and histogram observations are those the valid
 * fields alone decide, and no finish in year 9999 makes a later job look like one already counted.
 */

const START_MS = Date.parse("2026-12-07T00:00:00Z");
/** Small, so that runs of a few dozen jobs forget counted ids and use the horizon. */
const CAPACITY = 6;

type FinishKind = "valid" | "absent" | "year9999" | "tomorrow" | "ancient" | "garbage" | "wrong_type";
type DurationKind = "valid" | "skew" | "absent" | "negative" | "huge" | "max_double" | "infinite" | "nan";
type Source = "job_hook" | "pipeline_hook" | "rest";

interface Step {
  readonly advanceMs: number;
  /** How far before the step's clock a valid finish lies, as a fraction of the step. */
  readonly finishLag: number;
  readonly finish: FinishKind;
  readonly duration: DurationKind;
  readonly durationValue: number;
  readonly queued: DurationKind;
  readonly queuedValue: number;
  readonly source: Source;
  readonly status: "success" | "failed" | "canceled";
  readonly repeats: number;
}

const durationKind = fc.constantFrom<DurationKind>("valid", "valid", "valid", "skew", "absent", "negative", "huge", "max_double", "infinite", "nan");
const step: fc.Arbitrary<Step> = fc.record({
  advanceMs: fc.integer({ min: 1, max: 3_600_000 }),
  finishLag: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  finish: fc.constantFrom<FinishKind>("valid", "valid", "valid", "absent", "year9999", "tomorrow", "ancient", "garbage", "wrong_type"),
  duration: durationKind,
  durationValue: fc.double({ min: 0, max: MAX_JOB_SECONDS, noNaN: true }),
  queued: durationKind,
  queuedValue: fc.double({ min: 0, max: MAX_JOB_SECONDS, noNaN: true }),
  source: fc.constantFrom<Source>("job_hook", "pipeline_hook", "rest"),
  status: fc.constantFrom("success", "failed", "canceled"),
  repeats: fc.integer({ min: 1, max: 3 }),
});

function finishedAtOnWire(s: Step, clockMs: number): unknown {
  switch (s.finish) {
    case "valid":
      // After the previous step's clock: finishes first seen arrive about in the order they happen.
      return new Date(clockMs - Math.floor(s.finishLag * s.advanceMs)).toISOString();
    case "absent":
      return null;
    case "year9999":
      return "9999-12-31T00:00:00Z";
    case "tomorrow":
      return new Date(clockMs + 86_400_000).toISOString();
    case "ancient":
      return "1970-01-01T00:00:00Z";
    case "garbage":
      return "not a time";
    case "wrong_type":
      return 1_700_000_000;
  }
}

function durationOnWire(kind: DurationKind, value: number): number | null {
  switch (kind) {
    case "valid":
      return value;
    case "skew":
      return -Math.min(value, SKEW_TOLERANCE_SECONDS);
    case "absent":
      return null;
    case "negative":
      return -1e6;
    case "huge":
      return 1e12;
    case "max_double":
      return 1e308;
    case "infinite":
      return Infinity;
    case "nan":
      return Number.NaN;
  }
}

/** What a plausible duration becomes: itself, a skew negative 0; null when refused or absent. */
function expectedDuration(kind: DurationKind, value: number): number | null {
  if (kind === "valid") return value;
  if (kind === "skew") return 0;
  return null;
}

/** The job as its source reports it, parsed and observed as the exporter does. */
function observeOnWire(s: Step, id: number, clockMs: number, rejections: Rejections) {
  const finishedAt = finishedAtOnWire(s, clockMs);
  const duration = durationOnWire(s.duration, s.durationValue);
  const queued = durationOnWire(s.queued, s.queuedValue);
  const startedAt = new Date(clockMs - 60_000).toISOString();
  const project = { id: 1, path_with_namespace: "acme/api" };
  if (s.source === "job_hook") {
    const hook = jobHookSchema.parse({
      object_kind: "build",
      build_id: id,
      build_status: s.status,
      build_started_at: startedAt,
      build_finished_at: finishedAt,
      build_duration: duration,
      build_queued_duration: queued,
      project_id: 1,
      project,
    });
    return observeJobHook(hook, clockMs, rejections);
  }
  if (s.source === "pipeline_hook") {
    const hook = pipelineHookSchema.parse({
      object_kind: "pipeline",
      object_attributes: { id: 10_000 + id, status: s.status },
      project,
      builds: [{ id, status: s.status, started_at: startedAt, finished_at: finishedAt, duration, queued_duration: queued }],
    });
    return observePipelineHook(hook, clockMs, rejections)[0]!;
  }
  const job = restJobSchema.parse({ id, status: s.status, tag_list: ["docker"], started_at: startedAt, finished_at: finishedAt, duration, queued_duration: queued });
  return observeRestJob(job, 1, clockMs, rejections)!;
}

describe("job counting under valid and absurd input (property)", () => {
  it("counts and observes exactly what the valid fields decide, and a far-future finish never refuses later jobs", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let clockMs = START_MS;
        const finished: JobFinished[] = [];
        const started: JobStarted[] = [];
        const histogram = new HistogramFamily("d_seconds", "D.", ["project"], [60, 3600]);
        const store = new JobStore({ countFinishedSinceMs: START_MS, now: () => clockMs, countedIdsCapacity: CAPACITY });
        store.onStarted.add((event) => started.push(event));
        store.onFinished.add((event) => {
          finished.push(event);
          if (event.durationSeconds !== null) histogram.observe({ project: "acme/api" }, event.durationSeconds);
        });
        let refusals = 0;
        const rejections: Rejections = { reject: () => refusals++ };

        const expectedCounted: number[] = [];
        let expectedSum = 0;
        let expectedObservations = 0;
        let expectedRefusals = 0;
        steps.forEach((s, index) => {
          clockMs += s.advanceMs;
          const id = index + 1;
          // A Job Hook is sent for the transition itself, so a finish without a (usable) time is new.
          const report = s.source === "job_hook" ? "transition" : "listing";
          const counted = s.finish === "valid" || report === "transition";
          if (counted) {
            expectedCounted.push(id);
            const duration = expectedDuration(s.duration, s.durationValue);
            if (duration !== null) {
              expectedSum += duration;
              expectedObservations++;
            }
          }
          for (let r = 0; r < s.repeats; r++) {
            store.apply(observeOnWire(s, id, clockMs, rejections), report);
            const refusedFields = [s.finish, s.duration, s.queued].filter((k) => !["valid", "absent", "skew"].includes(k)).length;
            expectedRefusals += refusedFields;
          }
        });

        expect(finished.map((f) => f.jobId)).toEqual(expectedCounted);
        expect(refusals).toBe(expectedRefusals);
        const sum = histogram.render().match(/^d_seconds_sum\{project="acme\/api"\} (\S+)$/m)?.[1];
        const count = histogram.render().match(/^d_seconds_count\{project="acme\/api"\} (\S+)$/m)?.[1];
        if (expectedObservations === 0) expect(count).toBeUndefined();
        else {
          expect(Number(count)).toBe(expectedObservations);
          expect(Number(sum)).toBeCloseTo(expectedSum, 3);
        }
        for (const event of started) {
          expect(Number.isFinite(event.queuedDurationSeconds)).toBe(true);
          expect(event.queuedDurationSeconds).toBeGreaterThanOrEqual(0);
          expect(event.queuedDurationSeconds).toBeLessThanOrEqual(MAX_JOB_SECONDS);
        }
      }),
      { numRuns: 300 },
    );
  });
});
