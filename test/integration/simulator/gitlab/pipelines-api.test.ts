import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inlineSecret } from "../../../../src/config/secret.js";
import { ignoreRejections } from "../../../../src/lib/rejections.js";
import { GitLabApi } from "../../../../src/sources/gitlab/api.js";
import { RequestBudget } from "../../../../src/sources/gitlab/budget.js";
import { createGitLabRequester } from "../../../../src/sources/gitlab/transport.js";
import { GitLabWorld, ManualClock, startGitLabSimulator, type GitLabSimulator, type SimJob, type SimPipeline } from "../../../../src/simulator/gitlab/index.js";
import { ISO_MS } from "./helpers.js";

type Json = Record<string, unknown>;
const TOKEN = "glpat-sim-pipelines-0123456789";
const RUNNER = { id: 7, description: "runner" };

let clock: ManualClock;
let world: GitLabWorld;
let sim: GitLabSimulator;
let api: GitLabApi;
const endpoints: string[] = [];
let projectId: number;
/** Three pipelines, changed at 09:00, 09:01 and 09:02 (world time). */
const pipelines: SimPipeline[] = [];
let retried: SimJob;
let retry: SimJob;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 3, 1, 9, 0, 0));
  world = new GitLabWorld({ now: clock.now, baseUrl: "https://gitlab.example.com" });
  projectId = world.addProject("acme/api").id;
  world.addProject("acme/web");
  for (let i = 0; i < 3; i++) {
    const pipeline = world.createPipeline(projectId, { ref: i === 2 ? "feature" : "main" });
    const job = world.createJob(projectId, { name: `build-${i}`, pipelineId: pipeline.id, status: "pending" });
    world.start(job.id, RUNNER);
    world.finish(job.id, i === 1 ? "failed" : "success", i === 1 ? "script_failure" : undefined);
    pipelines.push(pipeline);
    clock.advance(60_000);
  }
  // The failed job of the second pipeline is retried later: a new attempt, a new id.
  retried = world.pipelineJobs(pipelines[1]!.id)[0]!;
  retry = world.retry(retried.id);
  sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
  const requester = createGitLabRequester({
    budget: new RequestBudget(1000, 4),
    requestTimeoutMs: 5000,
    maxResponseBytes: 1 << 20,
    rejections: ignoreRejections,
    onRequest: (endpoint) => endpoints.push(endpoint),
  });
  api = new GitLabApi(sim.url, inlineSecret("GITLAB_TOKEN", TOKEN), requester, ignoreRejections);
});

afterAll(async () => {
  await sim.close();
});

const get = (path: string) => fetch(`${sim.url}/api/v4${path}`, { headers: { "PRIVATE-TOKEN": TOKEN } });
const at = (minute: number) => Date.UTC(2026, 3, 1, 9, minute, 0);

describe("pipelines", () => {
  it("keep updated_at at their last status change, not at every job change", () => {
    const [first, second, third] = pipelines;
    expect(first!.updatedAt).toBe(at(0));
    expect(third!.updatedAt).toBe(at(2));
    // The retry turned the failed pipeline back to pending at 09:03.
    expect(second!.status).toBe("pending");
    expect(second!.updatedAt).toBe(at(3));
    clock.advance(1000);
    world.start(retry.id, RUNNER);
    // pending → running is a status change of the pipeline too.
    expect(second!.updatedAt).toBe(at(3) + 1000);
    const second2 = world.createJob(projectId, { name: "lint", pipelineId: second!.id, status: "pending" });
    // Still running: no change of the pipeline's row.
    expect(second!.status).toBe("running");
    expect(second!.updatedAt).toBe(at(3) + 1000);
    world.start(second2.id, RUNNER);
    world.finish(second2.id, "success");
    expect(second!.updatedAt).toBe(at(3) + 1000);
  });

  it("are listed by updated_after (inclusive), order_by=updated_at&sort=desc, as the documented entity", async () => {
    const response = await get(`/projects/${projectId}/pipelines?updated_after=${new Date(at(2)).toISOString()}&order_by=updated_at&sort=desc`);
    const body = (await response.json()) as Json[];
    expect(body.map((p) => p.id)).toEqual([pipelines[1]!.id, pipelines[2]!.id]);
    expect(Object.keys(body[0]!)).toEqual(["id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "updated_at", "web_url"]);
    expect(body[0]).toMatchObject({ project_id: projectId, status: "running", ref: "main", source: "push", web_url: `https://gitlab.example.com/acme/api/-/pipelines/${pipelines[1]!.id}` });
    expect(body[0]!.updated_at).toMatch(ISO_MS);
    expect(response.headers.get("x-total")).toBe("2");
  });

  it("filter by updated_before, status and ref, sort by id by default, and page by offset", async () => {
    const ids = async (query: string) => ((await (await get(`/projects/${projectId}/pipelines?${query}`)).json()) as Json[]).map((p) => p.id);
    expect(await ids(`updated_before=${new Date(at(1)).toISOString()}`)).toEqual([pipelines[0]!.id]);
    expect(await ids("")).toEqual([pipelines[2]!.id, pipelines[1]!.id, pipelines[0]!.id]);
    expect(await ids("sort=asc&per_page=2&page=2")).toEqual([pipelines[2]!.id]);
    expect(await ids("ref=feature")).toEqual([pipelines[2]!.id]);
    expect(await ids("status=success")).toEqual([pipelines[2]!.id, pipelines[0]!.id]);
    expect(await ids("scope=finished&order_by=updated_at&sort=asc")).toEqual([pipelines[0]!.id, pipelines[2]!.id]);
    for (const query of ["updated_after=yesterday", "order_by=created_at", "sort=sideways", "scope=everything"]) {
      expect((await get(`/projects/${projectId}/pipelines?${query}`)).status).toBe(400);
    }
    expect((await get(`/projects/${projectId}/pipelines?pagination=keyset`)).status).toBe(405);
  });

  it("are read by the exporter through gitbeaker, one page with its next-page flag", async () => {
    const page = await api.updatedPipelines(projectId, { updatedAfterMs: at(0), page: 1, perPage: 2 });
    expect(page.pipelines.map((p) => p.id)).toEqual([pipelines[1]!.id, pipelines[2]!.id]);
    expect(page.hasNextPage).toBe(true);
    const rest = await api.updatedPipelines(projectId, { updatedAfterMs: at(0), updatedBeforeMs: at(0), page: 1, perPage: 2 });
    expect(rest.pipelines.map((p) => p.id)).toEqual([pipelines[0]!.id]);
    expect(rest.hasNextPage).toBe(false);
    const empty = await api.updatedPipelines(projectId, { updatedAfterMs: at(30), page: 1, perPage: 20 });
    expect(empty).toEqual({ pipelines: [], hasNextPage: false });
    expect(endpoints.filter((e) => e.includes("pipelines"))).toEqual(["/projects/:id/pipelines", "/projects/:id/pipelines", "/projects/:id/pipelines"]);
  });
});

describe("pipeline jobs", () => {
  it("list the latest attempts newest first, and every attempt with include_retried", async () => {
    const id = pipelines[1]!.id;
    const latest = ((await (await get(`/projects/${projectId}/pipelines/${id}/jobs`)).json()) as Json[]).map((j) => j.id);
    const all = ((await (await get(`/projects/${projectId}/pipelines/${id}/jobs?include_retried=true`)).json()) as Json[]).map((j) => j.id);
    const jobs = world.pipelineJobs(id);
    expect(latest).toEqual(jobs.filter((j) => !j.retried).map((j) => j.id).sort((a, b) => b - a));
    expect(all).toEqual(jobs.map((j) => j.id).sort((a, b) => b - a));
    expect(all).toContain(retried.id);
    expect(latest).not.toContain(retried.id);
    const failed = ((await (await get(`/projects/${projectId}/pipelines/${id}/jobs?include_retried=true&scope[]=failed`)).json()) as Json[]).map((j) => j.id);
    expect(failed).toEqual([retried.id]);
  });

  it("are read by the exporter with include_retried, and answer 404 for another project's pipeline", async () => {
    endpoints.length = 0;
    const page = await api.pipelineJobsPage(projectId, pipelines[1]!.id, 1, 100);
    expect(page.jobs.map((j) => j.id)).toContain(retried.id);
    expect(page.jobs.find((j) => j.id === retried.id)).toMatchObject({ status: "failed", failure_reason: "script_failure", pipeline: { id: pipelines[1]!.id } });
    expect(endpoints).toEqual(["/projects/:id/pipelines/:pipeline_id/jobs"]);
    const web = world.project("acme/web")!;
    expect((await get(`/projects/${web.id}/pipelines/${pipelines[0]!.id}/jobs`)).status).toBe(404);
    expect(sim.requests.count({ route: "/projects/:id/pipelines/:pipeline_id/jobs", status: 404 })).toBe(1);
    expect(sim.requests.filter({ route: "/projects/:id/pipelines/:pipeline_id/jobs" })[0]!.pipelineId).toBe(pipelines[1]!.id);
  });

  it("come with the world's time in the Date header", async () => {
    const response = await get(`/projects/${projectId}/pipelines`);
    expect(Date.parse(response.headers.get("date")!)).toBe(Math.floor(world.now() / 1000) * 1000);
  });
});
