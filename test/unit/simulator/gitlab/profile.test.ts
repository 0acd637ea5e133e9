import { describe, expect, it } from "vitest";
import { atLeast, GITLAB_COM, hasModernJobHook, projectJobsRateLimit, SELF_MANAGED, sendsJobHook } from "../../../../src/simulator/gitlab/profile.js";

describe("sendsJobHook", () => {
  it("follows Ci::Build's after_transition hooks", () => {
    expect(sendsJobHook(null, "created")).toBe(true);
    expect(sendsJobHook("created", "pending")).toBe(true);
    expect(sendsJobHook("manual", "pending")).toBe(true);
    expect(sendsJobHook("pending", "running")).toBe(true);
    for (const end of ["success", "failed", "canceled"] as const) expect(sendsJobHook("running", end)).toBe(true);
    expect(sendsJobHook("pending", "failed")).toBe(true);
    expect(sendsJobHook("created", "canceled")).toBe(true);
  });

  it("sends nothing for skipped, manual, scheduled, preparing or waiting_for_resource", () => {
    for (const status of ["skipped", "manual", "scheduled", "preparing", "waiting_for_resource"] as const) expect(sendsJobHook("created", status)).toBe(false);
    expect(sendsJobHook("scheduled", "manual")).toBe(false);
    expect(sendsJobHook("preparing", "skipped")).toBe(false);
  });
});

describe("versions", () => {
  it("compares major.minor numerically", () => {
    expect(atLeast({ version: "16.10", deployment: "self-managed" }, "16.3")).toBe(true);
    expect(atLeast({ version: "16.2", deployment: "self-managed" }, "16.3")).toBe(false);
    expect(atLeast({ version: "17.0", deployment: "self-managed" }, "16.3")).toBe(true);
  });

  it("gives the Job Hook its project object from 16.3", () => {
    expect(hasModernJobHook(GITLAB_COM)).toBe(true);
    expect(hasModernJobHook({ version: "16.2", deployment: "self-managed" })).toBe(false);
  });

  it("limits the project jobs endpoint to 600 a minute from 16.5", () => {
    expect(projectJobsRateLimit(GITLAB_COM)).toBe(600);
    expect(projectJobsRateLimit(SELF_MANAGED)).toBe(600);
    expect(projectJobsRateLimit({ version: "16.5", deployment: "self-managed" })).toBe(600);
    expect(projectJobsRateLimit({ version: "16.4", deployment: "self-managed" })).toBeUndefined();
  });
});
