import { Gitlab } from "@gitbeaker/rest";
import { get as httpGet } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator, type SimProject } from "../../../../src/simulator/gitlab/index.js";

type Json = Record<string, unknown>;
const TOKEN = "glpat-faulty";
let world: GitLabWorld;
let sim: GitLabSimulator;
let api: SimProject;

beforeAll(async () => {
  world = new GitLabWorld();
  api = world.addProject("acme/api");
  for (let i = 0; i < 30; i++) world.createJob(api.id, { name: `job-${i}`, status: "pending" });
  sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: 1_000_000 });
});

afterEach(() => {
  sim.faults.clear();
});

afterAll(async () => {
  await sim.close();
});

const get = (path: string, init: RequestInit = {}) => fetch(`${sim.url}/api/v4${path}`, { ...init, headers: { "PRIVATE-TOKEN": TOKEN } });
const project = () => get(`/projects/${api.id}`);
const nextLink = (response: Response) => /<([^>]+)>; rel="next"/.exec(response.headers.get("link") ?? "")?.[1];

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("status faults", () => {
  it.each([
    [500, "application/json", '{"message":"500 Internal Server Error"}'],
    [502, "text/plain; charset=utf-8", "GitLab is not responding\n"],
    [503, "text/html; charset=utf-8", "<title>GitLab is not responding (503)</title>"],
    [504, "text/html", "504 Gateway Time-out"],
  ] as const)("answers %i with GitLab's body, then recovers", async (status, contentType, body) => {
    sim.faults.status(status, { count: 1 });
    const faulty = await project();
    expect(faulty.status).toBe(status);
    expect(faulty.headers.get("content-type")).toBe(contentType);
    expect(await faulty.text()).toContain(body);
    expect(faulty.headers.get("ratelimit-name")).toBe("throttle_authenticated_api");
    expect((await project()).status).toBe(200);
  });

  it("is survived by gitbeaker's own retry when it is a single 502", async () => {
    sim.requests.clear();
    sim.faults.status(502, { count: 1 });
    const shown = (await new Gitlab({ host: sim.url, token: TOKEN }).Projects.show(api.id)) as unknown as Json;
    expect(shown.id).toBe(api.id);
    expect(sim.requests.log.map((r) => [r.status, r.fault])).toEqual([
      [502, "status"],
      [200, undefined],
    ]);
  });

  it("answers 429 with the Retry-After it is given", async () => {
    sim.faults.rateLimit({ retryAfterSeconds: 7, count: 1 });
    const limited = await project();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("ratelimit-resettime")).toMatch(/GMT$/);
    expect(await limited.text()).toBe("Retry later\n");
    expect((await project()).status).toBe(200);
  });

  it("is scoped by count and path", async () => {
    sim.faults.status(500, { count: 2, path: /\/jobs$/ });
    expect((await project()).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(`/projects/${api.id}/jobs`)).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect(sim.faults.active()).toEqual([]);
  });

  it("lasts until cleared when no count is given", async () => {
    sim.faults.status(503);
    for (let i = 0; i < 3; i++) expect((await project()).status).toBe(503);
    sim.faults.clear();
    expect((await project()).status).toBe(200);
  });
});

describe("connection faults", () => {
  it("resets the connection", async () => {
    sim.requests.clear();
    sim.faults.resetConnection({ count: 1 });
    await expect(project()).rejects.toThrow();
    expect(sim.requests.log[0]).toMatchObject({ status: 0, fault: "reset" });
    expect((await project()).status).toBe(200);
  });

  it("hangs until the faults are cleared", async () => {
    sim.requests.clear();
    sim.faults.hang();
    const pending = project().then(
      () => "answered",
      () => "dropped",
    );
    await until(() => sim.requests.count() === 1);
    const race = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve("still waiting"), 100))]);
    expect(race).toBe("still waiting");
    sim.faults.clear();
    expect(await pending).toBe("dropped");
    expect(sim.requests.log[0]).toMatchObject({ status: 0, fault: "hang" });
    expect((await project()).status).toBe(200);
  });

  it("hangs until the client gives up", async () => {
    sim.faults.hang({ count: 1 });
    await expect(get(`/projects/${api.id}`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    expect((await project()).status).toBe(200);
  });

  it("answers late with a delay", async () => {
    sim.faults.delay(150, { count: 1 });
    const started = Date.now();
    const late = await project();
    expect(late.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("closes promptly while a request hangs", async () => {
    const own = await startGitLabSimulator({ world, token: TOKEN });
    own.faults.hang();
    const pending = fetch(`${own.url}/api/v4/projects/${api.id}`, { headers: { "PRIVATE-TOKEN": TOKEN } }).catch(() => "dropped");
    await until(() => own.requests.count() === 1);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect(await pending).toBe("dropped");
  });
});

describe("body faults", () => {
  it("sends malformed JSON with the real headers", async () => {
    sim.faults.malformedJson({ count: 1 });
    const broken = await get(`/projects/${api.id}/jobs?per_page=5`);
    expect(broken.status).toBe(200);
    expect(broken.headers.get("content-type")).toBe("application/json");
    expect(broken.headers.get("x-total")).toBe("30");
    const text = await broken.text();
    expect(text.startsWith('[{"commit"')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it("truncates the body below its declared Content-Length and drops the connection", async () => {
    sim.faults.truncatedJson({ count: 1 });
    await expect(project().then((r) => r.text())).rejects.toThrow();
    sim.faults.truncatedJson({ count: 1 });
    const { declared, received, aborted } = await new Promise<{ declared: number; received: number; aborted: boolean }>((resolve, reject) => {
      const request = httpGet(`${sim.url}/api/v4/projects/${api.id}`, { headers: { "PRIVATE-TOKEN": TOKEN } }, (response) => {
        let received = 0;
        response.on("data", (chunk: Buffer) => (received += chunk.length));
        response.on("error", () => undefined);
        response.on("close", () => resolve({ declared: Number(response.headers["content-length"]), received, aborted: !response.complete }));
      });
      request.on("error", reject);
    });
    expect(aborted).toBe(true);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(declared);
  });

  it("answers 200 with an HTML sign-in page", async () => {
    sim.faults.htmlErrorPage({ count: 1 });
    const page = await project();
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    await expect(page.json()).rejects.toThrow();
  });
});

describe("pagination loop", () => {
  it("points offset pagination's next link back at the same page, only on list routes", async () => {
    sim.faults.paginationLoop();
    expect((await project()).status).toBe(200);
    const page2 = await get(`/projects/${api.id}/jobs?per_page=10&page=2`);
    expect(page2.headers.get("x-next-page")).toBe("2");
    expect(new URL(nextLink(page2)!).searchParams.get("page")).toBe("2");
    // A client that trusts the links goes round in circles until its own cap.
    const looped = (await new Gitlab({ host: sim.url, token: TOKEN }).Jobs.all(api.id, { perPage: 10, maxPages: 5 })) as unknown as Json[];
    expect(looped).toHaveLength(50);
    expect(new Set(looped.map((j) => j.id)).size).toBe(10);
  });

  it("repeats the keyset cursor", async () => {
    const first = await get(`/projects/${api.id}/jobs?pagination=keyset&order_by=id&sort=desc&per_page=10`);
    const cursor = new URL(nextLink(first)!).searchParams.get("cursor")!;
    sim.faults.paginationLoop({ count: 1 });
    const second = await get(`/projects/${api.id}/jobs?pagination=keyset&order_by=id&sort=desc&per_page=10&cursor=${encodeURIComponent(cursor)}`);
    expect(new URL(nextLink(second)!).searchParams.get("cursor")).toBe(cursor);
  });
});
