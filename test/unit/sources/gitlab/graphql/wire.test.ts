import { describe, expect, it } from "vitest";
import type { Rejections } from "../../../../../src/lib/rejections.js";
import { graphqlJobSchema, idOfGlobalId, observeGraphqlJob, type GraphqlJob } from "../../../../../src/sources/gitlab/graphql/wire.js";

const NOW = Date.parse("2026-06-01T09:00:00Z");

function recording() {
  const refused: Array<{ source: string; reason: string; field?: unknown }> = [];
  const rejections: Rejections = { reject: (source, reason, detail) => refused.push({ source, reason, field: detail?.field ?? detail?.issue }) };
  return { refused, rejections };
}

const job = (overrides: Partial<GraphqlJob> = {}): GraphqlJob =>
  graphqlJobSchema.parse({ id: "gid://gitlab/Ci::Build/42", status: "PENDING", tags: ["docker"], queuedDuration: 12.5, startedAt: null, runner: null, ...overrides });

describe("idOfGlobalId", () => {
  it("reads the number at the end of a GitLab Global ID", () => {
    expect(idOfGlobalId("gid://gitlab/Ci::Build/42")).toBe(42);
    expect(idOfGlobalId("gid://gitlab/Project/7")).toBe(7);
    expect(idOfGlobalId("gid://gitlab/Ci::Pipeline/9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("refuses anything else: other shapes, zero, and numbers past the safe integers", () => {
    for (const gid of [
      "42",
      "",
      "gid://gitlab/Ci::Build/",
      "gid://gitlab/Ci::Build/0",
      "gid://gitlab/Ci::Build/-3",
      "gid://gitlab/Ci::Build/4.2",
      "gid://gitlab/Ci::Build/42/1",
      "gid://gitlab/Ci::Build/42 ",
      "gid://gitlab/Ci::Build/42\n",
      "gid://other/Ci::Build/42",
      "gid://gitlab/Ci Build/42",
      "https://gitlab/Ci::Build/42",
      "gid://gitlab/Ci::Build/9007199254740993",
      "gid://gitlab/Ci::Build/99999999999999999999",
      `gid://gitlab/Ci::Build/${"9".repeat(400)}`,
    ]) {
      expect(idOfGlobalId(gid), gid).toBeNull();
    }
  });
});

describe("observeGraphqlJob", () => {
  it("reads the status GraphQL spells in capitals, with sorted, deduplicated tags and the runner", () => {
    const { refused, rejections } = recording();
    const observation = observeGraphqlJob(job({ status: "RUNNING", tags: ["linux", "docker", "linux", " "], startedAt: "2026-06-01T08:59:00Z", runner: { description: "spot-1" } }), 5, 77, NOW, rejections);
    expect(observation).toMatchObject({ id: 42, projectId: 5, pipelineId: 77, status: "running", tags: "docker,linux", runner: "spot-1", failureReason: "", finishedAtMs: null, durationSeconds: null });
    expect(refused).toEqual([]);
    expect(observeGraphqlJob(job({ status: "WAITING_FOR_RESOURCE" }), 5, null, NOW)?.status).toBe("waiting_for_resource");
  });

  it("keeps tags unknown when GitLab gives none, and an empty list as untagged", () => {
    expect(observeGraphqlJob(job({ tags: null }), 5, null, NOW)?.tags).toBeNull();
    expect(observeGraphqlJob(job({ tags: [] }), 5, null, NOW)?.tags).toBe("");
  });

  it("anchors a pending job's queue entry at the answer, and a running job's at its start", () => {
    const pending = observeGraphqlJob(job({ status: "PENDING", queuedDuration: 12.5 }), 5, null, NOW)!;
    expect(pending.queuedAtMs).toBe(NOW - 12_500);
    expect(pending.queuedDurationSeconds).toBe(12.5);
    const startedAt = NOW - 60_000;
    const running = observeGraphqlJob(job({ status: "RUNNING", queuedDuration: 30, startedAt: new Date(startedAt).toISOString() }), 5, null, NOW)!;
    expect(running.startedAtMs).toBe(startedAt);
    expect(running.queuedAtMs).toBe(startedAt - 30_000);
    // Running without a start time: when it was queued is unknown.
    expect(observeGraphqlJob(job({ status: "RUNNING", queuedDuration: 30 }), 5, null, NOW)!.queuedAtMs).toBeNull();
  });

  it("refuses implausible fields one by one, counted as gitlab_api, and keeps the job", () => {
    const { refused, rejections } = recording();
    const observation = observeGraphqlJob(job({ status: "RUNNING", queuedDuration: 1e12, startedAt: "9999-01-01T00:00:00Z" }), 5, null, NOW, rejections);
    expect(observation).toMatchObject({ id: 42, status: "running", queuedDurationSeconds: null, queuedAtMs: null, startedAtMs: null });
    expect(refused).toEqual([
      { source: "gitlab_api", reason: "future_timestamp", field: "started_at" },
      { source: "gitlab_api", reason: "implausible_duration", field: "queued_duration" },
    ]);

    const negative = recording();
    const skewed = observeGraphqlJob(job({ queuedDuration: -86_400 }), 5, null, NOW, negative.rejections)!;
    expect(skewed.queuedAtMs).toBeNull();
    expect(negative.refused).toEqual([{ source: "gitlab_api", reason: "negative_duration", field: "queued_duration" }]);
    // A slightly negative one is clock skew between GitLab's nodes: read as 0, not refused.
    const slight = recording();
    expect(observeGraphqlJob(job({ queuedDuration: -0.5 }), 5, null, NOW, slight.rejections)!.queuedAtMs).toBe(NOW);
    expect(slight.refused).toEqual([]);
  });

  it("drops a job whose id or status cannot be used, and counts it", () => {
    const { refused, rejections } = recording();
    expect(observeGraphqlJob(job({ id: "gid://gitlab/Ci::Build/0" }), 5, null, NOW, rejections)).toBeNull();
    expect(observeGraphqlJob(job({ id: "gid://gitlab/Ci::Build/99999999999999999" }), 5, null, NOW, rejections)).toBeNull();
    expect(observeGraphqlJob(job({ status: "WAITING_FOR_CALLBACK" }), 5, null, NOW, rejections)).toBeNull();
    expect(observeGraphqlJob(job({ status: "pending!" }), 5, null, NOW, rejections)).toBeNull();
    expect(refused).toEqual(Array.from({ length: 4 }, () => ({ source: "gitlab_api", reason: "schema", field: "job id or status" })));
  });
});
