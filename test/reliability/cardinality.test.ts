import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import type { PodSnapshot } from "../../src/domain/pod.js";
import type { JobObservation } from "../../src/domain/job.js";
import { buildHouse } from "../../src/wiring.js";
import jobHook from "../fixtures/gitlab/job-hook.json" with { type: "json" };
import { parseMetrics, sum } from "../helpers/prom.js";
import { DEFAULT_BUILDER_IMAGES } from "../../src/domain/builder.js";
import { RUNNER_JOB_POD_KEYS } from "../../src/domain/job-pod.js";
import { buildRunnerJobPod, podRunning } from "../../src/simulator/kube/index.js";
import { toPodSnapshot, type PodRecognition } from "../../src/sources/kube/wire.js";
import { webhookHarness } from "../helpers/webhook-harness.js";

/**
 * 10,000 projects and 100,000 distinct branch names through both sides, with a small cap per
 * family: series stay at or under the cap, what is left out is counted, and memory stays
 * bounded (heap after a full GC, so the figure is what is kept, not garbage not yet collected).
 */
const PROJECTS = 10_000;
const REFS = 100_000;
const CAP = 2_000;
const LIVE_PODS = 1_000;
const REF_MAX_LENGTH = 128;
const SECRET = "cardinality-secret";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapMiB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const ref = (i: number) => (i % 10 === 0 ? `feature/${"very-long-branch-name-".repeat(10)}${i}` : `feature/PLAT-${i}-fix`);
const projectPath = (i: number) => `group-${i % 100}/project-${i}`;
const summary: string[] = [];
afterAll(() => console.log(`Cardinality: ${summary.join("; ")}`));

function familySizes(text: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const sample of parseMetrics(text)) {
    const family = sample.name.replace(/_(bucket|sum|count)$/, "");
    sizes.set(family, (sizes.get(family) ?? 0) + 1);
  }
  return sizes;
}

describe("cardinality at 10,000 projects and 100,000 branch names", () => {
  it("keeps the GitLab families at the cap, counts what is dropped, and job state bounded", async () => {
    const projects = Array.from({ length: PROJECTS }, (_, i) => ({ id: i + 1, path: projectPath(i + 1) }));
    const { app, registry, jobs } = webhookHarness({ secret: SECRET, projects, maxSeriesPerFamily: CAP });
    try {
      const deliver = async (i: number) => {
        const id = (i % PROJECTS) + 1;
        const failed = i % 3 === 0;
        const body = {
          ...jobHook,
          build_id: 1_000_000 + i,
          ref: ref(i),
          build_name: `job-${i % 50}`,
          build_status: failed ? "failed" : "success",
          build_failure_reason: failed ? ["script_failure", "runner_system_failure", "stuck_or_timeout_failure"][i % 3 === 0 ? (i / 3) % 3 : 0] : "unknown_failure",
          build_started_at: "2026-03-10 09:00:00 UTC",
          build_finished_at: "2026-03-10 09:05:00 UTC",
          build_duration: 300,
          project_id: id,
          project_name: projectPath(id),
          project: { ...jobHook.project, id, path_with_namespace: projectPath(id) },
          runner: { ...jobHook.runner, id: i % 7, description: `runner-${i % 7}` },
        };
        const response = await app.inject({
          method: "POST",
          url: "/webhooks/gitlab",
          headers: { "content-type": "application/json", "x-gitlab-token": SECRET, "x-gitlab-event": "Job Hook" },
          payload: JSON.stringify(body),
        });
        expect(response.statusCode).toBe(200);
      };
      for (let i = 0; i < REFS / 10; i++) await deliver(i);
      const early = heapMiB();
      for (let i = REFS / 10; i < REFS; i++) await deliver(i);
      const late = heapMiB();

      const text = await registry.metrics();
      const sizes = familySizes(text);
      for (const [family, size] of sizes) expect(size, family).toBeLessThanOrEqual(family.endsWith("_duration_seconds") ? CAP * 15 : CAP);
      expect(sizes.get("gitlab_ci_jobs_finished_total")).toBe(CAP);
      const samples = parseMetrics(text);
      // Every job was counted: exported or dropped.
      const exported = sum(samples, "gitlab_ci_jobs_finished_total");
      const dropped = sum(samples, "gitlab_ci_exporter_series_dropped_total", { family: "gitlab_ci_jobs_finished_total" });
      expect(dropped).toBeGreaterThan(0);
      expect(exported + dropped).toBe(REFS);
      // Finished jobs leave the live state; only their ids are remembered, up to a fixed number.
      expect(jobs.liveCount ?? 0).toBe(0);
      expect(late - early).toBeLessThan(48);
      summary.push(`GitLab side: ${PROJECTS} projects, ${REFS} refs, ${sizes.get("gitlab_ci_jobs_finished_total")} finished-job series (cap ${CAP}), ${dropped} samples dropped, heap ${early.toFixed(1)} → ${late.toFixed(1)} MiB`);
    } finally {
      await app.close();
    }
  }, 180_000);

  it("keeps job pod series to the live pods, at most the cap, refs truncated, through 100,000 pods", async () => {
    const { state, exposition } = buildHouse({ maxSeriesPerFamily: CAP, processMetrics: false });
    const pods = state.kube!.pods;
    const nowMs = Date.now();
    // Through the wire decoding, as the informer applies them, so refs are cut where the exporter cuts them.
    const recognition: PodRecognition = { jobPod: { keys: RUNNER_JOB_POD_KEYS, gitlabBasePath: "", refMaxLength: REF_MAX_LENGTH }, builders: DEFAULT_BUILDER_IMAGES };
    const pod = (i: number): PodSnapshot => {
      const raw = buildRunnerJobPod({ projectId: i % PROJECTS, projectPath: projectPath(i % PROJECTS), jobId: 5_000_000 + i, jobName: `job-${i % 50}`, ref: ref(i), nodeName: `node-${i % 300}`, suffix: `p${i}` });
      raw.metadata!.uid = `uid-${i}`;
      podRunning(raw, new Date(nowMs));
      return toPodSnapshot(raw, recognition)!;
    };
    let early = 0;
    for (let i = 0; i < REFS; i++) {
      pods.upsert(pod(i), { nowMs, observeEndedBuilds: true });
      // Jobs end: at most LIVE_PODS pods live at once, 100,000 in all.
      if (i >= LIVE_PODS) pods.remove(pods.get(`uid-${i - LIVE_PODS}`)!, nowMs);
      if (i === REFS / 10) early = heapMiB();
    }
    const late = heapMiB();
    const text = await exposition.text();
    const samples = parseMetrics(text);
    const info = samples.filter((s) => s.name === "gitlab_ci_job_pod_info");
    expect(info).toHaveLength(LIVE_PODS);
    expect(new Set(info.map((s) => s.labels.job_id))).toEqual(new Set(Array.from({ length: LIVE_PODS }, (_, k) => String(5_000_000 + REFS - LIVE_PODS + k))));
    const refLengths = info.map((s) => s.labels.ref!.length);
    expect(Math.max(...refLengths)).toBe(REF_MAX_LENGTH);
    expect(ref(REFS - 10).length).toBeGreaterThan(REF_MAX_LENGTH);
    expect(pods.size).toBe(LIVE_PODS);
    expect(late - early).toBeLessThan(16);

    // Past the cap, the family stops growing and counts what it leaves out.
    for (let i = REFS; i < REFS + CAP + 500; i++) pods.upsert(pod(i), { nowMs, observeEndedBuilds: true });
    const capped = parseMetrics(await exposition.text());
    expect(capped.filter((s) => s.name === "gitlab_ci_job_pod_info")).toHaveLength(CAP);
    expect(sum(capped, "gitlab_ci_exporter_series_dropped_total", { family: "gitlab_ci_job_pod_info" })).toBeGreaterThan(0);
    summary.push(`Kubernetes side: ${REFS} job pods with distinct refs churned, ${info.length} info series for ${LIVE_PODS} live pods, ${CAP} at the cap, heap ${early.toFixed(1)} → ${late.toFixed(1)} MiB`);
  }, 180_000);
});

describe("the cap on gauges computed at each scrape", () => {
  const GAUGE_CAP = 100;
  const families = ["gitlab_ci_jobs_pending", "gitlab_ci_jobs_running", "gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds"] as const;

  function liveJobs() {
    const { state, exposition } = buildHouse({ maxSeriesPerFamily: GAUGE_CAP, kubernetes: false, processMetrics: false });
    const { projects, jobs } = state;
    projects.replaceAll([{ id: 1, path: "acme/api" }]);
    const nowMs = Date.now();
    // One tag set per job: each pending or running job is a series of its own.
    const job = (id: number, status: "pending" | "running" | "success"): JobObservation => ({
      id,
      projectId: 1,
      status,
      tags: `tag-${id}`,
      runner: "runner",
      failureReason: "",
      queuedDurationSeconds: 10,
      durationSeconds: status === "success" ? 5 : null,
      queuedAtMs: nowMs - 10_000,
      startedAtMs: status === "pending" ? null : nowMs,
    });
    const scrape = async () => {
      const samples = parseMetrics(await exposition.text());
      return Object.fromEntries(families.map((family) => [family, { series: samples.filter((s) => s.name === family).length, dropped: sum(samples, "gitlab_ci_exporter_series_dropped_total", { family }) }]));
    };
    return { jobs, job, scrape };
  }

  it("counts each label set left out once, in the scrape that leaves it out, not again at every scrape", async () => {
    const { jobs, job, scrape } = liveJobs();
    for (let id = 1; id <= 250; id++) jobs.apply(job(id, "pending"), "transition");
    for (let id = 1001; id <= 1120; id++) jobs.apply(job(id, "running"), "transition");

    const first = await scrape();
    expect(first.gitlab_ci_jobs_pending).toEqual({ series: GAUGE_CAP, dropped: 150 });
    expect(first.gitlab_ci_jobs_pending_oldest_queued_timestamp_seconds).toEqual({ series: GAUGE_CAP, dropped: 150 });
    expect(first.gitlab_ci_jobs_running).toEqual({ series: GAUGE_CAP, dropped: 20 });
    // The same label sets left out again: nothing new is counted, however often Prometheus scrapes.
    for (let i = 0; i < 5; i++) expect(await scrape()).toEqual(first);

    // One more left out, counted once.
    jobs.apply(job(251, "pending"), "transition");
    expect((await scrape()).gitlab_ci_jobs_pending).toEqual({ series: GAUGE_CAP, dropped: 151 });
    expect((await scrape()).gitlab_ci_jobs_pending).toEqual({ series: GAUGE_CAP, dropped: 151 });

    // Jobs shown finish: label sets left out until now take their places, which drops nothing new.
    for (let id = 1; id <= 60; id++) jobs.apply(job(id, "success"), "transition");
    expect((await scrape()).gitlab_ci_jobs_pending).toEqual({ series: GAUGE_CAP, dropped: 151 });
    // Fewer than the cap left: nothing is left out; when more come, they count again.
    for (let id = 61; id <= 240; id++) jobs.apply(job(id, "success"), "transition");
    expect((await scrape()).gitlab_ci_jobs_pending).toEqual({ series: 11, dropped: 151 });
    for (let id = 2001; id <= 2100; id++) jobs.apply(job(id, "pending"), "transition");
    expect((await scrape()).gitlab_ci_jobs_pending).toEqual({ series: GAUGE_CAP, dropped: 162 });
  });
});
