import { Gitlab } from "@gitbeaker/rest";
import { get as httpGet } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, startGitLabSimulator, type GitLabSimulator, type SimJob, type SimProject } from "../../../../src/simulator/gitlab/index.js";
import { fixture, ISO_MS } from "./helpers.js";

type Json = Record<string, unknown>;
const TOKEN = "glpat-sim-0123456789abcdef";
const RUNNER = { id: 32, description: "eks-spot-runner" };

let clock: ManualClock;
let world: GitLabWorld;
let sim: GitLabSimulator;
let api: SimProject;
let gitlab: InstanceType<typeof Gitlab>;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 3, 1, 12, 0, 0));
  world = new GitLabWorld({ now: clock.now, baseUrl: "https://gitlab.example.com" });
  api = world.addProject("acme/platform/api", { id: 4217 });
  world.addProject("acme/web");
  world.addProject("acme/legacy", { archived: true });
  world.addProject("acme/platform/infra/terraform");
  world.addProject("tools/lint");
  for (let i = 0; i < 24; i++) world.addProject(`acme/team-${i % 3}/svc-${i}`);
  // 130 jobs: every status the exporter reads, newest last.
  for (let i = 0; i < 130; i++) {
    const job = world.createJob(api.id, { name: `job-${i}`, tags: i % 2 ? ["docker", "linux"] : [], status: "pending" });
    clock.advance(1000);
    if (i % 5 === 0) continue;
    if (i % 5 === 1) {
      world.finish(job.id, "canceled");
      continue;
    }
    world.start(job.id, RUNNER);
    clock.advance(500);
    if (i % 5 === 2) continue;
    if (i % 5 === 3) world.finish(job.id, "failed", i % 2 ? "script_failure" : "runner_system_failure");
    else world.finish(job.id, "success");
  }
  sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
  gitlab = new Gitlab({ host: sim.url, token: TOKEN });
});

afterAll(async () => {
  await sim.close();
});

const get = (path: string, token: string | null = TOKEN) => fetch(`${sim.url}/api/v4${path}`, { headers: token === null ? {} : { "PRIVATE-TOKEN": token } });
const truth = (filter: (j: SimJob) => boolean) =>
  world
    .projectJobs(api.id)
    .filter(filter)
    .map((j) => j.id);

describe("projects", () => {
  it("shows a project by id and by URL-encoded path, shaped like the documented entity", async () => {
    const byId = (await gitlab.Projects.show(api.id)) as unknown as Json;
    const byPath = (await gitlab.Projects.show("acme/platform/api")) as unknown as Json;
    expect(byPath).toEqual(byId);
    const documented = fixture<Json[]>("group-projects.json")[0]!;
    expect(Object.keys(byId)).toEqual(expect.arrayContaining(Object.keys(documented)));
    expect(byId).toMatchObject({
      id: 4217,
      name: "api",
      path: "api",
      path_with_namespace: "acme/platform/api",
      web_url: "https://gitlab.example.com/acme/platform/api",
      archived: false,
      namespace: { id: world.group("acme/platform")!.id, name: "platform", path: "platform", kind: "group", full_path: "acme/platform" },
    });
    expect(byId.last_activity_at).toMatch(ISO_MS);
  });

  it("lists a group's projects through subgroups with gitbeaker's offset pagination", async () => {
    const all = (await gitlab.Groups.allProjects("acme", { includeSubgroups: true, withShared: false, perPage: 7, maxPages: 50 })) as unknown as Json[];
    expect(all.map((p) => p.path_with_namespace).sort()).toEqual(
      world
        .projects()
        .filter((p) => p.pathWithNamespace.startsWith("acme/"))
        .map((p) => p.pathWithNamespace)
        .sort(),
    );
    const direct = (await gitlab.Groups.allProjects("acme", { perPage: 100 })) as unknown as Json[];
    expect(direct.map((p) => p.path_with_namespace).sort()).toEqual(["acme/legacy", "acme/web"]);
    const byId = (await gitlab.Groups.allProjects(world.group("acme/platform")!.id, { includeSubgroups: true })) as unknown as Json[];
    expect(byId.map((p) => p.path_with_namespace).sort()).toEqual(["acme/platform/api", "acme/platform/infra/terraform"]);
    const maxed = (await gitlab.Groups.allProjects("acme", { includeSubgroups: true, perPage: 5, maxPages: 2 })) as unknown as Json[];
    expect(maxed).toHaveLength(10);
  });

  it("filters archived projects when asked", async () => {
    const active = (await (await get("/groups/acme/projects?archived=false")).json()) as Json[];
    expect(active.map((p) => p.path_with_namespace)).toEqual(["acme/web"]);
    const archived = (await (await get("/groups/acme/projects?archived=true")).json()) as Json[];
    expect(archived.map((p) => p.path_with_namespace)).toEqual(["acme/legacy"]);
  });

  it("pages a group's projects by id_after with keyset pagination", async () => {
    const seen: number[] = [];
    let next: string | undefined = `${sim.url}/api/v4/groups/acme/projects?include_subgroups=true&pagination=keyset&order_by=id&sort=asc&per_page=10`;
    let requests = 0;
    while (next) {
      const response = await fetch(next, { headers: { "PRIVATE-TOKEN": TOKEN } });
      requests++;
      const page = (await response.json()) as Json[];
      seen.push(...page.map((p) => p.id as number));
      expect(response.headers.get("x-total")).toBeNull();
      next = /<([^>]+)>; rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
      if (next) expect(new URL(next).searchParams.get("id_after")).toBe(String(page.at(-1)!.id));
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen).toHaveLength(world.groupProjects("acme", true).length);
    expect(requests).toBe(Math.floor(seen.length / 10) + 1);
    expect((await get("/groups/acme/projects?pagination=keyset")).status).toBe(405);
  });

  it("answers 404 for unknown groups and projects, 403/404 for projects the token lost", async () => {
    expect(await (await get("/groups/nope/projects")).json()).toEqual({ message: "404 Group Not Found" });
    const missing = await get("/projects/999999");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: "404 Project Not Found" });
    const lint = world.project("tools/lint")!;
    world.setProjectAccess(lint.id, "forbidden");
    const forbidden = await get(`/projects/${lint.id}/jobs`);
    expect([forbidden.status, await forbidden.json()]).toEqual([403, { message: "403 Forbidden" }]);
    world.setProjectAccess(lint.id, "not_found");
    const hidden = await get(`/projects/${encodeURIComponent("tools/lint")}`);
    expect([hidden.status, await hidden.json()]).toEqual([404, { message: "404 Project Not Found" }]);
    world.setProjectAccess(lint.id, "ok");
    expect((await get(`/projects/${lint.id}`)).status).toBe(200);
    const doomed = world.addProject("tools/doomed");
    world.removeProject(doomed.id);
    expect((await get(`/projects/${doomed.id}/jobs`)).status).toBe(404);
  });
});

describe("jobs", () => {
  it("pages jobs newest first, page by page with showExpanded, like the exporter's offset poller", async () => {
    const ids: number[] = [];
    for (let page = 1; ; page++) {
      const { data, paginationInfo } = (await gitlab.Jobs.all(api.id, { scope: ["pending", "running"] as never, perPage: 20, page, showExpanded: true })) as unknown as {
        data: Json[];
        paginationInfo: { total: number; next: number | null; current: number; previous: number | null; perPage: number; totalPages: number };
      };
      ids.push(...data.map((j) => j.id as number));
      expect(paginationInfo).toMatchObject({ current: page, perPage: 20, previous: page > 1 ? page - 1 : null });
      expect(paginationInfo.total).toBe(truth((j) => j.status === "pending" || j.status === "running").length);
      if (paginationInfo.next === null) break;
      expect(paginationInfo.next).toBe(page + 1);
    }
    expect(ids).toEqual(truth((j) => j.status === "pending" || j.status === "running"));
  });

  it("follows Link headers through every page, and keyset cursors to the end", async () => {
    const offset = (await gitlab.Jobs.all(api.id, { perPage: 50, maxPages: 10 })) as unknown as Json[];
    expect(offset.map((j) => j.id)).toEqual(truth(() => true));
    const keyset = (await gitlab.Jobs.all(api.id, { pagination: "keyset", orderBy: "id", sort: "desc", perPage: 40, maxPages: 10 } as never)) as unknown as Json[];
    expect(keyset.map((j) => j.id)).toEqual(truth(() => true));
    const capped = (await gitlab.Jobs.all(api.id, { pagination: "keyset", orderBy: "id", sort: "desc", perPage: 40, maxPages: 2 } as never)) as unknown as Json[];
    expect(capped).toHaveLength(80);
    const failed = (await gitlab.Jobs.all(api.id, { scope: "failed", pagination: "keyset", orderBy: "id", sort: "desc", perPage: 5, maxPages: 100 } as never)) as unknown as Json[];
    expect(failed.map((j) => j.id)).toEqual(truth((j) => j.status === "failed"));
  });

  it("ends keyset pagination without a Link header and refuses other orderings with 405", async () => {
    let url: string | undefined = `${sim.url}/api/v4/projects/${api.id}/jobs?pagination=keyset&order_by=id&sort=desc&per_page=100`;
    const links: Array<string | null> = [];
    while (url) {
      const response = await fetch(url, { headers: { "PRIVATE-TOKEN": TOKEN } });
      links.push(response.headers.get("link"));
      expect(response.headers.get("x-total")).toBeNull();
      expect(response.headers.get("x-next-page")).toBeNull();
      url = /<([^>]+)>; rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
    }
    expect(links).toHaveLength(2);
    expect(links[0]).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/v4\/projects\/4217\/jobs\?cursor=[A-Za-z0-9_-]+(%3D)*&order_by=id&pagination=keyset&per_page=100&sort=desc>; rel="next"$/);
    expect(links[1]).toBeNull();
    for (const query of ["order_by=created_at&sort=desc", "order_by=id&sort=asc"]) {
      const wrong = await get(`/projects/${api.id}/jobs?pagination=keyset&${query}`);
      expect(wrong.status).toBe(405);
      expect(await wrong.json()).toEqual({ error: "Keyset pagination is not yet available for this type of request" });
    }
  });

  it("writes offset headers exactly as documented, with absolute links from the request's Host", async () => {
    const response = await get(`/projects/${api.id}/jobs?per_page=3&page=2`);
    expect(Object.fromEntries(["x-next-page", "x-page", "x-per-page", "x-prev-page", "x-total", "x-total-pages"].map((h) => [h, response.headers.get(h)]))).toEqual({
      "x-next-page": "3",
      "x-page": "2",
      "x-per-page": "3",
      "x-prev-page": "1",
      "x-total": "130",
      "x-total-pages": "44",
    });
    expect(response.headers.get("link")).toBe(
      ["page=1&per_page=3>; rel=\"prev\"", "page=3&per_page=3>; rel=\"next\"", "page=1&per_page=3>; rel=\"first\"", "page=44&per_page=3>; rel=\"last\""]
        .map((tail) => `<${sim.url}/api/v4/projects/4217/jobs?${tail}`)
        .join(", "),
    );
    const viaProxy = await new Promise<string>((resolve, reject) => {
      const request = httpGet(`${sim.url}/api/v4/projects/${api.id}/jobs?per_page=100`, { headers: { "PRIVATE-TOKEN": TOKEN, host: "gitlab.internal:8443" } }, (res) => {
        res.resume();
        resolve(String(res.headers.link));
      });
      request.on("error", reject);
    });
    expect(viaProxy).toContain('<http://gitlab.internal:8443/api/v4/projects/4217/jobs?page=2&per_page=100>; rel="next"');
  });

  it("stops counting above 10,000 jobs", async () => {
    const big = world.addProject("acme/monorepo");
    const pipeline = world.createPipeline(big.id);
    for (let i = 0; i < 10_001; i++) world.createJob(big.id, { name: `shard-${i}`, pipelineId: pipeline.id });
    const response = await get(`/projects/${big.id}/jobs?per_page=100`);
    expect(response.headers.get("x-total")).toBeNull();
    expect(response.headers.get("x-total-pages")).toBeNull();
    expect(response.headers.get("link")).not.toContain('rel="last"');
    expect(response.headers.get("x-next-page")).toBe("2");
    expect(((await response.json()) as Json[])[0]!.name).toBe("shard-10000");
    world.removeProject(big.id);
  });

  it("filters by scope given as a string, an array or scope[]", async () => {
    const ids = async (query: string) => ((await (await get(`/projects/${api.id}/jobs?per_page=100&${query}`)).json()) as Json[]).map((j) => j.id);
    expect(await ids("scope=failed")).toEqual(truth((j) => j.status === "failed"));
    expect(await ids("scope[]=pending&scope[]=canceled")).toEqual(truth((j) => j.status === "pending" || j.status === "canceled"));
    expect(await ids("scope=running&scope=success")).toEqual(truth((j) => j.status === "running" || j.status === "success"));
    // Every status of Ci::HasStatus::AVAILABLE_STATUSES is a valid scope, recent ones included.
    for (const scope of ["preparing", "scheduled", "waiting_for_callback", "canceling"]) expect((await get(`/projects/${api.id}/jobs?scope[]=${scope}`)).status).toBe(200);
    const wrong = await get(`/projects/${api.id}/jobs?scope=nonsense`);
    expect([wrong.status, await wrong.json()]).toEqual([400, { error: "scope does not have a valid value" }]);
  });

  it("renders the documented Job entity, with failure_reason only on failed jobs", async () => {
    const documented = fixture<Json[]>("jobs-list.json")[0]!;
    const jobs = (await gitlab.Jobs.all(api.id, { perPage: 100, maxPages: 2 })) as unknown as Json[];
    // artifacts_file is only exposed for jobs that have artifacts.
    const expectedKeys = Object.keys(documented).filter((k) => k !== "artifacts_file" && k !== "failure_reason");
    for (const job of jobs) {
      expect(Object.keys(job)).toEqual(expect.arrayContaining(expectedKeys));
      expect("failure_reason" in job).toBe(job.status === "failed");
      expect(job.created_at).toMatch(ISO_MS);
      expect(Object.keys(job.pipeline as Json)).toEqual(Object.keys(documented.pipeline as Json));
      expect(Object.keys(job.commit as Json)).toEqual(Object.keys(documented.commit as Json));
      expect(job.web_url).toBe(`https://gitlab.example.com/acme/platform/api/-/jobs/${job.id as number}`);
      expect(job.project).toEqual({ ci_job_token_scope_enabled: false });
      if (job.runner !== null) {
        expect(Object.keys(job.runner as Json)).toEqual(Object.keys(documented.runner as Json));
        expect(Object.keys(job.runner_manager as Json)).toEqual(Object.keys(documented.runner_manager as Json));
      }
    }
    const failed = jobs.filter((j) => j.status === "failed");
    expect(new Set(failed.map((j) => j.failure_reason))).toEqual(new Set(["script_failure", "runner_system_failure"]));
    const waiting = jobs.find((j) => j.status === "pending")!;
    expect(waiting).toMatchObject({ runner: null, runner_manager: null, started_at: null, finished_at: null, duration: null });
    const running = jobs.find((j) => j.status === "running")!;
    expect(running.runner).toMatchObject({ id: 32, description: "eks-spot-runner", is_shared: true, runner_type: "instance_type" });
    expect(running.tag_list).toEqual(expect.any(Array));
    expect(running.pipeline).toMatchObject({ project_id: 4217, ref: "main", status: expect.any(String) });
  });

  it("grows queued_duration while pending and duration while running, and freezes each", async () => {
    const show = async (id: number) => (await gitlab.Jobs.show(api.id, id)) as unknown as Json;
    const job = world.createJob(api.id, { name: "timed", tags: ["docker"], status: "pending" });
    expect(await show(job.id)).toMatchObject({ status: "pending", queued_duration: 0, duration: null, started_at: null });
    clock.advance(12_345);
    expect(await show(job.id)).toMatchObject({ queued_duration: 12.345, duration: null });
    world.start(job.id, RUNNER);
    clock.advance(2_000);
    expect(await show(job.id)).toMatchObject({ status: "running", queued_duration: 12.345, duration: 2 });
    clock.advance(1_500);
    expect(await show(job.id)).toMatchObject({ duration: 3.5 });
    world.finish(job.id, "failed", "stuck_or_timeout_failure");
    clock.advance(60_000);
    const done = await show(job.id);
    expect(done).toMatchObject({ status: "failed", failure_reason: "stuck_or_timeout_failure", queued_duration: 12.345, duration: 3.5 });
    expect(new Date(done.finished_at as string).getTime() - new Date(done.started_at as string).getTime()).toBe(3500);
  });

  it("answers 404 for a job of another project", async () => {
    const other = world.project("acme/web")!;
    const foreign = world.createJob(other.id, { name: "foreign" });
    expect(await (await get(`/projects/${api.id}/jobs/${foreign.id}`)).json()).toEqual({ message: "404 Not found" });
    expect((await get(`/projects/${encodeURIComponent("acme/web")}/jobs/${foreign.id}`)).status).toBe(200);
  });
});

describe("authentication and routing", () => {
  it("answers 401 without the right PRIVATE-TOKEN", async () => {
    for (const token of ["wrong", null]) {
      const response = await get(`/projects/${api.id}`, token);
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.json()).toEqual({ message: "401 Unauthorized" });
      expect(response.headers.get("ratelimit-name")).toBe("throttle_unauthenticated_api");
    }
    await expect(new Gitlab({ host: sim.url, token: "wrong" }).Projects.show(api.id)).rejects.toThrow(/401 Unauthorized/);
  });

  it("answers 404 to unknown routes", async () => {
    for (const path of ["/projects/4217/issues", "/version", "/projects/4217/jobs/abc", "/groups/acme"]) {
      const response = await get(path);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ message: "404 Not Found" });
    }
    expect((await fetch(`${sim.url}/health`)).status).toBe(401);
  });

  it("logs every request with its route, project and status", async () => {
    sim.requests.clear();
    await gitlab.Projects.show("acme/platform/api");
    await gitlab.Jobs.all(api.id, { perPage: 100, maxPages: 5 });
    await get("/projects/4217", "wrong");
    expect(sim.requests.count({ route: "/projects/:id", projectId: api.id })).toBe(2);
    expect(sim.requests.count({ route: "/projects/:id/jobs", projectId: api.id, status: 200 })).toBe(2);
    expect(sim.requests.count({ status: 401 })).toBe(1);
    expect(sim.requests.countByProject().get(api.id)).toBe(4);
    const listing = sim.requests.filter({ route: "/projects/:id/jobs" });
    expect(listing.map((r) => r.query.get("page"))).toEqual([null, "2"]);
    expect(listing[0]!.path).toBe("/api/v4/projects/4217/jobs");
  });
});
