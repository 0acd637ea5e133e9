import { describe, expect, it } from "vitest";
import { afterDelivery, HEALTHY, hookStatus, type AutoDisableRule, type HookHealthState } from "../../../../src/simulator/gitlab/hook-health.js";

const MIN = 60_000;

function fail(rule: AutoDisableRule, times: number, status: number | null, start: HookHealthState = HEALTHY, at = 0): HookHealthState {
  let state = start;
  for (let i = 0; i < times; i++) state = afterDelivery(rule, state, status, at);
  return state;
}

describe("current rule (auto_disabling.rb)", () => {
  it("tolerates three failures, then backs off from one minute, doubling", () => {
    expect(hookStatus("current", fail("current", 3, 500), 0)).toBe("executable");
    const fourth = fail("current", 4, 404);
    expect(fourth).toMatchObject({ recentFailures: 4, disabledUntil: MIN });
    expect(hookStatus("current", fourth, MIN)).toBe("temporarily_disabled");
    expect(hookStatus("current", fourth, MIN + 1)).toBe("executable");
    expect(fail("current", 1, null, fourth, MIN + 1)).toMatchObject({ recentFailures: 5, disabledUntil: MIN + 1 + 2 * MIN });
  });

  it("caps the backoff at a day and disables for good after the 40th failure", () => {
    const many = fail("current", 39, 502);
    expect(many.disabledUntil).toBe(24 * 60 * MIN);
    expect(hookStatus("current", many, 24 * 60 * MIN + 1)).toBe("executable");
    const fortieth = fail("current", 1, 502, many, 24 * 60 * MIN + 1);
    expect(hookStatus("current", fortieth, Number.MAX_SAFE_INTEGER)).toBe("disabled");
  });

  it("counts 3xx as success and re-enables on any success", () => {
    expect(afterDelivery("current", fail("current", 3, 500), 302, 0)).toEqual(HEALTHY);
    expect(afterDelivery("current", fail("current", 10, 500), 204, 0)).toEqual(HEALTHY);
  });
});

describe("legacy rule", () => {
  it("disables for good after four 4xx in a row", () => {
    expect(hookStatus("legacy", fail("legacy", 3, 401), 0)).toBe("executable");
    expect(hookStatus("legacy", fail("legacy", 4, 401), Number.MAX_SAFE_INTEGER)).toBe("disabled");
  });

  it("backs off at the first 500 or timeout", () => {
    const once = fail("legacy", 1, null, HEALTHY, 1000);
    expect(hookStatus("legacy", once, 1000 + MIN - 1)).toBe("temporarily_disabled");
    expect(fail("legacy", 1, 500, once, 1000 + MIN).disabledUntil).toBe(1000 + 3 * MIN);
  });
});

it("does nothing when off", () => {
  expect(hookStatus("off", fail("off", 100, 500), 0)).toBe("executable");
});
