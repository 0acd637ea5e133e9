import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, startGitLabSimulator, type GitLabSimulator, type SimJob, type SimPipeline, type SimProject } from "../../../../src/simulator/gitlab/index.js";

type Json = Record<string, any>;
const TOKEN = "glpat-user";
const ADMIN = "glpat-admin";
const RUNNER = { id: 7, description: "eks-spot-runner", tags: ["docker"] };

let clock: ManualClock;
let world: GitLabWorld;
let sim: GitLabSimulator;
let api: SimProject;
let pipeline: SimPipeline;
let child: SimPipeline;
let pending: SimJob;
let running: SimJob;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 5, 1, 9, 0, 0, 250));
  world = new GitLabWorld({ now: clock.now });
  api = world.addProject("acme/platform/api");
  world.addProject("acme/platform/sub/web", { visibility: "public" });
  world.addProject("acme/old", { archived: true });
  pipeline = world.createPipeline(api.id);
  pending = world.createJob(api.id, { name: "build", tags: ["docker"], pipelineId: pipeline.id, status: "pending" });
  running = world.createJob(api.id, { name: "test", pipelineId: pipeline.id, status: "pending" });
  clock.advance(1500);
  world.start(running.id, RUNNER);
  child = world.createChildPipeline(pipeline.id);
  world.createJob(api.id, { name: "child-job", pipelineId: child.id, status: "pending" });
  clock.advance(2000);
  sim = await startGitLabSimulator({ world, token: TOKEN, adminToken: ADMIN });
});

afterAll(async () => {
  await sim.close();
});

async function graphql(query: string, token: string | null = TOKEN, variables: Json = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${sim.url}/api/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  return { status: response.status, body: (await response.json()) as Json };
}

describe("GraphQL schema subset", () => {
  it("walks group → projects → pipelines → jobs with GitLab's ids, enums and whole-second times", async () => {
    const { status, body } = await graphql(`{
      group(fullPath: "acme") {
        projects(includeSubgroups: true, first: 500) {
          pageInfo { hasNextPage endCursor }
          nodes { id fullPath pipelines(updatedAfter: "2026-06-01T08:00:00Z") { nodes { id iid status source updatedAt
            jobs(statuses: [PENDING, RUNNING]) { nodes { id name status kind createdAt queuedAt startedAt duration queuedDuration tags refName runner { description } } } } } }
        }
      }
    }`);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const projects = body.data.group.projects.nodes as Json[];
    expect(projects.map((p) => p.fullPath).sort()).toEqual(["acme/old", "acme/platform/api", "acme/platform/sub/web"]);
    const apiNode = projects.find((p) => p.fullPath === "acme/platform/api")!;
    expect(apiNode.id).toBe(`gid://gitlab/Project/${api.id}`);
    // The child pipeline is not listed without `source: "parent_pipeline"`.
    expect(apiNode.pipelines.nodes).toHaveLength(1);
    const p = apiNode.pipelines.nodes[0];
    expect(p).toMatchObject({ id: `gid://gitlab/Ci::Pipeline/${pipeline.id}`, iid: "1", status: "RUNNING", source: "push" });
    expect(p.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const jobs = p.jobs.nodes as Json[];
    expect(jobs.map((j) => j.id)).toEqual([`gid://gitlab/Ci::Build/${running.id}`, `gid://gitlab/Ci::Build/${pending.id}`]);
    expect(jobs[0]).toMatchObject({ status: "RUNNING", kind: "BUILD", startedAt: "2026-06-01T09:00:01Z", duration: 2, queuedDuration: 1.5, runner: { description: "eks-spot-runner" } });
    expect(jobs[1]).toMatchObject({ status: "PENDING", createdAt: "2026-06-01T09:00:00Z", tags: ["docker"], refName: "main", runner: null, queuedDuration: 3.5 });
  });

  it("defaults includeSubgroups to false and can leave archived projects out", async () => {
    const { body } = await graphql(`{ group(fullPath: "acme") { all: projects { nodes { fullPath } } active: projects(includeArchived: false) { nodes { fullPath } } } }`);
    expect(body.data.group.all.nodes).toEqual([{ fullPath: "acme/old" }]);
    expect(body.data.group.active.nodes).toEqual([]);
  });

  it("reaches child pipelines through downstream or the parent_pipeline source", async () => {
    const { body } = await graphql(`{ project(fullPath: "acme/platform/api") {
      pipelines(source: "parent_pipeline") { nodes { id source } }
      all: pipelines { nodes { iid downstream { nodes { id source upstream { id } jobs { nodes { name } } } } } } } }`);
    expect(body.data.project.pipelines.nodes).toEqual([{ id: `gid://gitlab/Ci::Pipeline/${child.id}`, source: "parent_pipeline" }]);
    const downstream = body.data.project.all.nodes[0].downstream.nodes;
    expect(downstream).toEqual([{ id: `gid://gitlab/Ci::Pipeline/${child.id}`, source: "parent_pipeline", upstream: { id: `gid://gitlab/Ci::Pipeline/${pipeline.id}` }, jobs: { nodes: [{ name: "child-job" }] } }]);
  });

  it("pages with first and after, capping first at 100 silently", async () => {
    const first = await graphql(`{ project(fullPath: "acme/platform/api") { jobs(first: 1) { pageInfo { hasNextPage endCursor } nodes { name } } } }`);
    const page = first.body.data.project.jobs;
    expect(page.pageInfo.hasNextPage).toBe(true);
    const second = await graphql(`query($after: String) { project(fullPath: "acme/platform/api") { jobs(first: 1000, after: $after) { pageInfo { hasNextPage } nodes { name } } } }`, TOKEN, { after: page.pageInfo.endCursor });
    expect(second.body.errors).toBeUndefined();
    expect([page.nodes[0].name, ...second.body.data.project.jobs.nodes.map((n: Json) => n.name)]).toEqual(["child-job", "test", "build"]);
  });

  it("lets Project.jobs be asked for one project per query", async () => {
    const { body } = await graphql(`{ projects(fullPaths: ["acme/platform/api", "acme/old"]) { nodes { jobs { nodes { id } } } } }`);
    expect(body.errors[0].message).toBe('"jobs" field can be requested only for 1 Project(s) at a time.');
  });

  it("finds projects by full paths (at most 50) and Global IDs", async () => {
    const { body } = await graphql(`{ byPath: projects(fullPaths: ["acme/platform/api"]) { nodes { fullPath } } byId: projects(ids: ["gid://gitlab/Project/${api.id}"]) { nodes { fullPath } } }`);
    expect(body.data.byPath.nodes).toEqual([{ fullPath: "acme/platform/api" }]);
    expect(body.data.byId.nodes).toEqual([{ fullPath: "acme/platform/api" }]);
    const paths = JSON.stringify(Array.from({ length: 51 }, (_, i) => `acme/p${i}`));
    const tooMany = await graphql(`{ projects(fullPaths: ${paths}) { nodes { fullPath } } }`);
    expect(tooMany.body.errors[0].message).toMatch(/50/);
  });

  it("has CiJob.pipeline as a PipelineInterface: status needs an inline fragment", async () => {
    const bare = await graphql(`{ project(fullPath: "acme/platform/api") { jobs { nodes { pipeline { status } } } } }`);
    expect(bare.body.errors[0].message).toMatch(/Cannot query field "status" on type "PipelineInterface"/);
    const fragment = await graphql(`{ project(fullPath: "acme/platform/api") { jobs(first: 1) { nodes { pipeline { id ... on Pipeline { status } } } } } }`);
    // The newest job is the child pipeline's, waiting.
    expect(fragment.body.data.project.jobs.nodes[0].pipeline.status).toBe("PENDING");
  });

  it("offers failureMessage, never a failure reason enum", async () => {
    const { body } = await graphql(`{ project(fullPath: "acme/platform/api") { jobs { nodes { failureReason } } } }`);
    expect(body.errors[0].message).toMatch(/Cannot query field "failureReason"/);
  });
});

describe("instance jobs", () => {
  const query = `{ jobs(statuses: [PENDING]) { nodes { id status project { id ... on Project { fullPath } } pipeline { iid ... on Pipeline { status } } } } }`;

  it("lists every job of the instance for an administrator", async () => {
    const { body } = await graphql(query, ADMIN);
    expect(body.errors).toBeUndefined();
    expect(body.data.jobs.nodes.map((j: Json) => j.project.fullPath)).toEqual(["acme/platform/api", "acme/platform/api"]);
    expect(body.data.jobs.nodes[1]).toMatchObject({ id: `gid://gitlab/Ci::Build/${pending.id}`, pipeline: { iid: "1", status: "RUNNING" } });
  });

  it("is an empty list, not an error, for anyone else", async () => {
    const { status, body } = await graphql(query, TOKEN);
    expect(status).toBe(200);
    expect(body).toEqual({ data: { jobs: { nodes: [] } } });
  });

  it("needs an inline fragment for fullPath on the ProjectInterface", async () => {
    const { body } = await graphql(`{ jobs { nodes { project { fullPath } } } }`, ADMIN);
    expect(body.errors[0].message).toMatch(/Cannot query field "fullPath" on type "ProjectInterface"/);
  });
});

describe("limits and authentication", () => {
  const heavy = (first: number) => `{ group(fullPath: "acme") { projects(includeSubgroups: true, first: ${first}) { nodes { fullPath name webUrl archived
    pipelines(first: 100) { nodes { id iid status updatedAt createdAt source startedAt finishedAt duration queuedDuration ref sha downstream { nodes { id status } }
      jobs(first: 100) { nodes { id name status createdAt queuedAt startedAt finishedAt duration queuedDuration tags retried refName allowFailure runner { description } stage { name } } } } } } } } }`;

  it("computes GitLab's complexity and answers queryComplexity", async () => {
    // jobs: (1 + 17 + 1) × 2 = 38; pipelines: (1 + 12 + 4 + 38 + 1 + 1) × 2 = 114;
    // projects: (1 + 4 + 114 + 1 + 10) × 1.5 = 195; group: 196; queryComplexity { score limit }: 3.
    const { body } = await graphql(heavy(50).replace("{ group", "{ queryComplexity { score limit } group"));
    expect(body.errors).toBeUndefined();
    expect(body.data.queryComplexity).toEqual({ score: 199, limit: 250 });
  });

  it("refuses a query above the limit with GitLab's message, and allows more to an administrator", async () => {
    const user = await graphql(heavy(100));
    expect(user.status).toBe(200);
    expect(user.body).toEqual({ errors: [{ message: "Query has complexity of 261, which exceeds max complexity of 250" }] });
    const admin = await graphql(heavy(100), ADMIN);
    expect(admin.body.errors).toBeUndefined();
  });

  it("limits anonymous requests to 200 and public projects", async () => {
    const anonymous = await graphql(`{ queryComplexity { limit } api: project(fullPath: "acme/platform/api") { id } web: project(fullPath: "acme/platform/sub/web") { fullPath } }`, null);
    expect(anonymous.body.data).toEqual({ queryComplexity: { limit: 200 }, api: null, web: { fullPath: "acme/platform/sub/web" } });
  });

  it("answers a wrong token with 401 and query text over 10,000 characters with 422", async () => {
    expect(await graphql(`{ queryComplexity { limit } }`, "glpat-wrong")).toEqual({ status: 401, body: { errors: [{ message: "Invalid token" }] } });
    const long = `{ queryComplexity { limit } }${" ".repeat(10_000)}`;
    expect(await graphql(long)).toEqual({ status: 422, body: { errors: [{ message: "Query too large" }] } });
  });

  it("refuses queries deeper than 20 for a user", async () => {
    let nested = "id";
    for (let i = 0; i < 10; i++) nested = `pipelines { nodes { project { ${nested} } } }`;
    const { body } = await graphql(`{ project(fullPath: "acme/platform/api") { ${nested} } }`);
    expect(body.errors[0].message).toMatch(/^Query has depth of \d+, which exceeds max depth of 20$/);
  });

  it("can be switched off (404) or refused (403) for fallback tests", async () => {
    sim.graphql = "disabled";
    expect((await graphql(`{ queryComplexity { limit } }`)).status).toBe(404);
    sim.graphql = "forbidden";
    expect(await graphql(`{ queryComplexity { limit } }`)).toEqual({ status: 403, body: { errors: [{ message: "API not accessible for user" }] } });
    sim.graphql = "enabled";
  });

  it("takes the same faults as REST", async () => {
    sim.faults.status(502, { count: 1, path: /^\/api\/graphql$/ });
    expect((await fetch(`${sim.url}/api/graphql`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "{}" })).status).toBe(502);
    sim.faults.malformedJson({ count: 1, path: /^\/api\/graphql$/ });
    const response = await fetch(`${sim.url}/api/graphql`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ query: "{ queryComplexity { limit } }" }) });
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow();
  });

  it("counts against the same rate limit as REST", async () => {
    const limited = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 2, rateLimitWindowStart: Date.now() });
    try {
      const post = () => fetch(`${limited.url}/api/graphql`, { method: "POST", headers: { "private-token": TOKEN, "content-type": "application/json" }, body: JSON.stringify({ query: "{ queryComplexity { limit } }" }) });
      expect((await post()).status).toBe(200);
      expect((await fetch(`${limited.url}/api/v4/projects/${api.id}`, { headers: { "private-token": TOKEN } })).status).toBe(200);
      expect((await post()).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
