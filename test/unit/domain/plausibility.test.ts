import { describe, expect, it } from "vitest";
import { EARLIEST_PLAUSIBLE_MS, FieldChecks, FUTURE_TOLERANCE_MS, MAX_JOB_SECONDS, plausibleDuration, plausibleTimestamp, SKEW_TOLERANCE_SECONDS } from "../../../src/domain/plausibility.js";

const NOW = Date.parse("2026-12-07T12:00:00Z");

describe("plausible timestamps", () => {
  it("keep a moment between GitLab's beginnings and a few minutes ahead of now", () => {
    expect(plausibleTimestamp(NOW, NOW)).toEqual({ value: NOW, refused: null });
    expect(plausibleTimestamp(NOW + FUTURE_TOLERANCE_MS, NOW).value).toBe(NOW + FUTURE_TOLERANCE_MS);
    expect(plausibleTimestamp(EARLIEST_PLAUSIBLE_MS, NOW).value).toBe(EARLIEST_PLAUSIBLE_MS);
    expect(plausibleTimestamp(null, NOW)).toEqual({ value: null, refused: null });
  });

  it("refuse the future, the distant past and what is not a moment", () => {
    expect(plausibleTimestamp(NOW + FUTURE_TOLERANCE_MS + 1, NOW)).toEqual({ value: null, refused: "future_timestamp" });
    expect(plausibleTimestamp(Date.parse("9999-12-31T00:00:00Z"), NOW).refused).toBe("future_timestamp");
    expect(plausibleTimestamp(0, NOW).refused).toBe("ancient_timestamp");
    expect(plausibleTimestamp(EARLIEST_PLAUSIBLE_MS - 1, NOW).refused).toBe("ancient_timestamp");
    expect(plausibleTimestamp(Number.NaN, NOW).refused).toBe("invalid_timestamp");
    expect(plausibleTimestamp(Infinity, NOW).refused).toBe("invalid_timestamp");
  });
});

describe("plausible durations", () => {
  it("keep 0 up to GitLab's longest job, and read a clock-skew negative as 0", () => {
    expect(plausibleDuration(12.5)).toEqual({ value: 12.5, refused: null });
    expect(plausibleDuration(MAX_JOB_SECONDS).value).toBe(MAX_JOB_SECONDS);
    expect(plausibleDuration(-0.3)).toEqual({ value: 0, refused: null });
    expect(plausibleDuration(-SKEW_TOLERANCE_SECONDS)).toEqual({ value: 0, refused: null });
    expect(plausibleDuration(undefined)).toEqual({ value: null, refused: null });
  });

  it("refuse a far negative, a duration longer than any job, and non-finite numbers", () => {
    expect(plausibleDuration(-SKEW_TOLERANCE_SECONDS - 1)).toEqual({ value: null, refused: "negative_duration" });
    expect(plausibleDuration(MAX_JOB_SECONDS + 1).refused).toBe("implausible_duration");
    expect(plausibleDuration(1e308).refused).toBe("implausible_duration");
    expect(plausibleDuration(Infinity).refused).toBe("implausible_duration");
    expect(plausibleDuration(Number.NaN).refused).toBe("implausible_duration");
  });
});

describe("field checks", () => {
  it("report each refused field with its value, and only those", () => {
    const refused: unknown[] = [];
    const checks = new FieldChecks(NOW, (field, reason, value) => refused.push([field, reason, value]));
    expect(checks.timestamp("finished_at", NOW - 1000)).toBe(NOW - 1000);
    expect(checks.timestamp("finished_at", Number.NaN, "garbage")).toBeNull();
    expect(checks.duration("duration", 1e308)).toBeNull();
    expect(checks.duration("queued_duration", -1)).toBe(0);
    expect(refused).toEqual([
      ["finished_at", "invalid_timestamp", "garbage"],
      ["duration", "implausible_duration", 1e308],
    ]);
  });
});
