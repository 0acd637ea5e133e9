import { afterEach, describe, expect, it } from "vitest";
import { GitLabWorld, SELF_MANAGED, SELF_MANAGED_16_2, startGitLabSimulator, type GitLabSimulator, type GitLabSimulatorOptions } from "../../../../src/simulator/gitlab/index.js";

const TOKEN = "glpat-limits";
let sim: GitLabSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: Partial<GitLabSimulatorOptions>, selfManaged: boolean) {
  const world = new GitLabWorld(selfManaged ? { profile: SELF_MANAGED } : {});
  const project = world.addProject("acme/api");
  sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitWindowStart: Date.now(), ...options });
  return { project, get: (path: string) => fetch(`${sim!.url}/api/v4${path}`, { headers: { "private-token": TOKEN } }) };
}

const rateLimitHeaderNames = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith("ratelimit-") || name === "retry-after").sort();

describe("RateLimit-* headers by deployment", () => {
  it("come only with the 429 on a self-managed instance", async () => {
    const { project, get } = await start({ rateLimitPerMinute: 1 }, true);
    const ok = await get(`/projects/${project.id}`);
    expect(ok.status).toBe(200);
    expect(rateLimitHeaderNames(ok)).toEqual([]);
    const limited = await get(`/projects/${project.id}`);
    expect(limited.status).toBe(429);
    expect(rateLimitHeaderNames(limited)).toEqual(["ratelimit-limit", "ratelimit-name", "ratelimit-observed", "ratelimit-remaining", "ratelimit-reset", "ratelimit-resettime", "retry-after"]);
    expect(limited.headers.get("ratelimit-observed")).toBe("2");
    expect(await limited.text()).toBe("Retry later\n");
  });

  it("come with most answers on GitLab.com", async () => {
    const { project, get } = await start({ rateLimitPerMinute: 10 }, false);
    const ok = await get(`/projects/${project.id}`);
    expect(ok.headers.get("ratelimit-remaining")).toBe("9");
    expect(ok.headers.get("ratelimit-name")).toBe("throttle_authenticated_api");
  });
});

describe("the project jobs endpoint's own limit", () => {
  it("answers 429 with a JSON body, no Retry-After and no RateLimit-* once the user's quota is spent", async () => {
    const { project, get } = await start({ projectJobsRateLimitPerMinute: 2 }, false);
    expect((await get(`/projects/${project.id}/jobs`)).status).toBe(200);
    expect((await get(`/projects/acme%2Fapi/jobs`)).status).toBe(200);
    const limited = await get(`/projects/${project.id}/jobs`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("content-type")).toBe("application/json");
    expect(rateLimitHeaderNames(limited)).toEqual([]);
    expect(await limited.json()).toEqual({ message: { error: "This endpoint has been requested too many times. Try again later." } });
    // Other endpoints, a single job included, are not counted against it.
    expect((await get(`/projects/${project.id}/pipelines`)).status).toBe(200);
    expect((await get(`/projects/${project.id}`)).status).toBe(200);
  });

  it("is GitLab's 600 a minute by default from 16.5", async () => {
    const { project, get } = await start({}, false);
    const statuses: number[] = [];
    for (let i = 0; i < 601; i++) statuses.push((await get(`/projects/${project.id}/jobs`)).status);
    expect(statuses.slice(0, 600).every((status) => status === 200)).toBe(true);
    expect(statuses[600]).toBe(429);
  });

  it.each([
    ["before GitLab 16.5", { profile: SELF_MANAGED_16_2 }, {}],
    ["when lifted", {}, { projectJobsRateLimitPerMinute: false as const }],
  ])("is off %s", async (_, worldOptions, options) => {
    const world = new GitLabWorld(worldOptions);
    const project = world.addProject("acme/api");
    sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitWindowStart: Date.now(), ...options });
    for (let i = 0; i < 610; i++) expect((await fetch(`${sim.url}/api/v4/projects/${project.id}/jobs`, { headers: { "private-token": TOKEN } })).status).toBe(200);
  });
});
