import { afterEach, describe, expect, it } from "vitest";
import { GitLabWorld, startGitLabSimulator, type GitLabSimulator } from "../../../../src/simulator/gitlab/index.js";

const TOKEN = "glpat-rate-limited";
let sim: GitLabSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(limit: number, wallClock: () => number) {
  const world = new GitLabWorld();
  const project = world.addProject("acme/api");
  sim = await startGitLabSimulator({ world, token: TOKEN, rateLimitPerMinute: limit, wallClock });
  const get = (path: string, token = TOKEN) => fetch(`${sim!.url}/api/v4${path}`, { headers: { "PRIVATE-TOKEN": token } });
  return { project, get };
}

describe("GitLab's authenticated API rate limit", () => {
  it("sends RateLimit-* headers on every answer and 429 + Retry-After past the limit", async () => {
    let now = Date.UTC(2021, 0, 5, 10, 59, 30, 250);
    const { project, get } = await start(3, () => now);
    const answers = [];
    for (const path of [`/projects/${project.id}`, "/nope", `/projects/${project.id}/jobs`, `/projects/${project.id}`]) answers.push(await get(path));
    expect(answers.map((r) => r.status)).toEqual([200, 404, 200, 429]);
    expect(answers.map((r) => r.headers.get("ratelimit-observed"))).toEqual(["1", "2", "3", "4"]);
    expect(answers.map((r) => r.headers.get("ratelimit-remaining"))).toEqual(["2", "1", "0", "0"]);
    for (const answer of answers) {
      expect(answer.headers.get("ratelimit-limit")).toBe("3");
      expect(answer.headers.get("ratelimit-name")).toBe("throttle_authenticated_api");
      expect(answer.headers.get("ratelimit-reset")).toBe(String(Date.UTC(2021, 0, 5, 11, 0, 0) / 1000));
    }
    const throttled = answers[3]!;
    expect(throttled.headers.get("retry-after")).toBe("30");
    expect(throttled.headers.get("ratelimit-resettime")).toBe("Tue, 05 Jan 2021 11:00:00 GMT");
    expect(throttled.headers.get("content-type")).toBe("text/plain");
    expect(await throttled.text()).toBe("Retry later\n");
    expect(sim!.requests.count({ status: 429 })).toBe(1);

    // Throttled requests count too; the next window starts afresh.
    expect((await get(`/projects/${project.id}`)).status).toBe(429);
    now += 30_000;
    const fresh = await get(`/projects/${project.id}`);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("ratelimit-observed")).toBe("1");
  });

  it("counts unauthenticated requests apart from the token's quota", async () => {
    const now = Date.UTC(2024, 5, 1, 0, 0, 10);
    const { project, get } = await start(2, () => now);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(`/projects/${project.id}`, "wrong")).status);
    expect(statuses).toEqual([401, 401, 429]);
    const answer = await get(`/projects/${project.id}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("ratelimit-observed")).toBe("1");
  });
});
