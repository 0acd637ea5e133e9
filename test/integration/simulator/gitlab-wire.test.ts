import { Gitlab } from "@gitbeaker/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, WebhookSender, startGitLabSimulator, type GitLabSimulator } from "../../../src/simulator/gitlab/index.js";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const TOKEN = "sim-token";
let world: GitLabWorld;
let sim: GitLabSimulator;
let projectId: number;

beforeAll(async () => {
  world = new GitLabWorld();
  const project = world.addProject("acme/platform/api");
  projectId = project.id;
  for (let i = 0; i < 45; i++) world.addProject(`acme/team-${i % 3}/svc-${i}`);
  for (let i = 0; i < 250; i++) {
    const job = world.createJob(project.id, { name: `job-${i}`, tags: ["docker"], status: "pending" });
    if (i % 3 === 0) continue;
    world.start(job.id, { id: 9, description: "runner-9" });
    if (i % 3 === 1) world.finish(job.id, i % 2 ? "failed" : "success", i % 2 ? "script_failure" : undefined);
  }
  sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 100_000 });
});

afterAll(async () => {
  await sim.close();
});

const get = (path: string, token = TOKEN) => fetch(`${sim.url}/api/v4${path}`, { headers: { "PRIVATE-TOKEN": token } });

describe("simulated GitLab REST API", () => {
  it("answers 401 to a wrong token", async () => {
    const response = await get("/projects/1", "wrong");
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: "401 Unauthorized" });
  });

  it("sends documented offset pagination headers", async () => {
    const response = await get(`/projects/${projectId}/jobs?per_page=20&page=2`);
    expect(response.headers.get("x-page")).toBe("2");
    expect(response.headers.get("x-per-page")).toBe("20");
    expect(response.headers.get("x-next-page")).toBe("3");
    expect(response.headers.get("x-prev-page")).toBe("1");
    expect(response.headers.get("x-total")).toBe("250");
    expect(response.headers.get("x-total-pages")).toBe("13");
    const link = response.headers.get("link")!;
    for (const rel of ["prev", "next", "first", "last"]) expect(link).toContain(`rel="${rel}"`);
    expect(response.headers.get("ratelimit-limit")).toBe("100000");
    expect(response.headers.get("ratelimit-name")).toBe("throttle_authenticated_api");
  });

  it("lists jobs newest first, filters by scope[], and shows failure_reason only on failed jobs", async () => {
    const gitlab = new Gitlab({ host: sim.url, token: TOKEN });
    const all = (await gitlab.Jobs.all(projectId, { perPage: 100, maxPages: 10 })) as unknown as Array<Record<string, unknown>>;
    expect(all).toHaveLength(250);
    expect(all.map((j) => j.id as number)).toEqual([...all.map((j) => j.id as number)].sort((a, b) => b - a));
    for (const job of all) expect("failure_reason" in job).toBe(job.status === "failed");
    const live = (await gitlab.Jobs.all(projectId, { scope: ["pending", "running"] as never, perPage: 100, maxPages: 10 })) as unknown as Array<{ status: string }>;
    expect(new Set(live.map((j) => j.status))).toEqual(new Set(["pending", "running"]));
    expect(live).toHaveLength(world.jobs().filter((j) => j.status === "pending" || j.status === "running").length);
  });

  it("follows keyset pagination with an opaque cursor until the Link header is gone", async () => {
    const gitlab = new Gitlab({ host: sim.url, token: TOKEN });
    const jobs = (await gitlab.Jobs.all(projectId, { pagination: "keyset", orderBy: "id", sort: "desc", perPage: 50, maxPages: 20 } as never)) as unknown as Array<{ id: number }>;
    expect(jobs).toHaveLength(250);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(250);
    const first = await get(`/projects/${projectId}/jobs?pagination=keyset&order_by=id&sort=desc&per_page=50`);
    expect(first.headers.get("link")).toMatch(/cursor=.*rel="next"/);
    const wrong = await get(`/projects/${projectId}/jobs?pagination=keyset&order_by=created_at&sort=asc`);
    expect(wrong.status).toBe(405);
  });

  it("lists a group's projects including subgroups", async () => {
    const gitlab = new Gitlab({ host: sim.url, token: TOKEN });
    const projects = (await gitlab.Groups.allProjects("acme", { includeSubgroups: true, perPage: 10, maxPages: 20 })) as unknown as Array<{ path_with_namespace: string }>;
    expect(projects).toHaveLength(46);
    const direct = (await gitlab.Groups.allProjects("acme", { perPage: 100 })) as unknown as unknown[];
    expect(direct).toHaveLength(0);
  });

  it("grows queued_duration while a job is pending", async () => {
    const job = world.createJob(projectId, { name: "waiting", status: "pending" });
    const first = (await (await get(`/projects/${projectId}/jobs/${job.id}`)).json()) as { queued_duration: number };
    await new Promise((resolve) => setTimeout(resolve, 120));
    const second = (await (await get(`/projects/${projectId}/jobs/${job.id}`)).json()) as { queued_duration: number };
    expect(second.queued_duration).toBeGreaterThan(first.queued_duration + 0.1);
  });

  it("answers 429 with Retry-After past the rate limit", async () => {
    const limited = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 3 });
    try {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 5; i++) {
        last = await fetch(`${limited.url}/api/v4/projects/${projectId}`, { headers: { "PRIVATE-TOKEN": TOKEN } });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses[4]).toBe(429);
      expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    } finally {
      await limited.close();
    }
  });

  it("serves each fault once when armed for one request", async () => {
    const path = `/projects/${projectId}`;
    sim.faults.status(502, { count: 1 });
    expect((await get(path)).status).toBe(502);
    sim.faults.status(503, { count: 1 });
    const html = await get(path);
    expect(html.status).toBe(503);
    expect(html.headers.get("content-type")).toContain("text/html");
    sim.faults.malformedJson({ count: 1 });
    await expect((await get(path)).json()).rejects.toThrow();
    sim.faults.resetConnection({ count: 1 });
    await expect(get(path)).rejects.toThrow();
    sim.faults.truncatedJson({ count: 1 });
    await expect(get(path).then((r) => r.text())).rejects.toThrow();
    sim.faults.hang({ count: 1 });
    await expect(fetch(`${sim.url}/api/v4${path}`, { headers: { "PRIVATE-TOKEN": TOKEN }, signal: AbortSignal.timeout(200) })).rejects.toThrow();
    sim.faults.paginationLoop({ count: 1 });
    const looping = await get(`/projects/${projectId}/jobs?per_page=20&page=1`);
    const next = /<([^>]+)>; rel="next"/.exec(looping.headers.get("link")!)![1]!;
    expect(new URL(next).searchParams.get("page")).toBe("1");
    expect((await get(path)).status).toBe(200);
  });
});

describe("simulated GitLab webhooks", () => {
  let receiver: Server;
  const received: Array<{ headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }> = [];

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        received.push({ headers: request.headers, body: JSON.parse(body) as Record<string, unknown> });
        response.end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("posts documented Job Hook and Pipeline Hook deliveries", async () => {
    const local = new GitLabWorld();
    const project = local.addProject("acme/hooks");
    const sender = new WebhookSender(local);
    sender.addHook({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, token: "t0ken", events: { job: true, pipeline: true } });
    const job = local.createJob(project.id, { name: "build", tags: ["docker"], status: "pending" });
    local.start(job.id, { id: 3, description: "runner-3", tags: ["docker"] });
    local.finish(job.id, "failed", "runner_system_failure");
    await sender.flush();
    const jobHooks = received.filter((r) => r.headers["x-gitlab-event"] === "Job Hook");
    expect(jobHooks.map((r) => r.body.build_status)).toEqual(["created", "pending", "running", "failed"]);
    const failed = jobHooks.at(-1)!;
    expect(failed.headers["x-gitlab-token"]).toBe("t0ken");
    expect(failed.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(failed.body).toMatchObject({ object_kind: "build", build_id: job.id, build_failure_reason: "runner_system_failure", project_id: project.id });
    expect(jobHooks[0]!.body.build_failure_reason).toBe("unknown_failure");
    const pipelineHooks = received.filter((r) => r.headers["x-gitlab-event"] === "Pipeline Hook");
    expect(pipelineHooks.at(-1)!.body).toMatchObject({ object_kind: "pipeline", object_attributes: { status: "failed" } });
    expect((pipelineHooks.at(-1)!.body.object_attributes as { created_at: string }).created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
  });
});
