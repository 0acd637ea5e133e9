import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { GitLabApi } from "../../../../src/sources/gitlab/api.js";
import { LISTED_REFRESH_MS, ProjectDirectory } from "../../../../src/sources/gitlab/discovery.js";
import { GitLabRequestError } from "../../../../src/sources/gitlab/request-error.js";

const log = pino({ level: "silent" });
const INTERVAL_MS = 300_000;

/** A GitLab with `count` projects `team/svc-<id>`, counting `GET /projects/:id`, some of them gone. */
function fakeApi(count: number) {
  const gone = new Set<number>();
  const calls: string[] = [];
  const api = {
    async project(ref: string | number) {
      calls.push(String(ref));
      const id = typeof ref === "number" ? ref : Number(String(ref).split("-").pop());
      if (!(id >= 1 && id <= count) || gone.has(id)) throw new GitLabRequestError("GET /projects/:id: HTTP 404", 404, "http", "/projects/:id");
      return { id, path_with_namespace: `team/svc-${id}`, archived: false };
    },
    async groupProjects() {
      return [];
    },
  } as unknown as GitLabApi;
  return { api, calls, gone };
}

describe("ProjectDirectory", () => {
  it("resolves 1,000 listed projects once, then each again about every six hours, a few per round", async () => {
    let now = 0;
    const { api, calls } = fakeApi(1000);
    const refs = Array.from({ length: 1000 }, (_, i) => `team/svc-${i + 1}`);
    const directory = new ProjectDirectory(api, { projects: refs, groups: [], discoveryIntervalMs: INTERVAL_MS, now: () => now }, log);
    expect(await directory.discover()).toHaveLength(1000);
    expect(calls).toHaveLength(1000);

    calls.length = 0;
    const perRound: number[] = [];
    for (let t = INTERVAL_MS; t <= LISTED_REFRESH_MS; t += INTERVAL_MS) {
      now = t;
      const before = calls.length;
      expect(await directory.discover()).toHaveLength(1000);
      perRound.push(calls.length - before);
    }
    // ceil(1,000 × 300 s / 6 h) = 14 a round: 0.05 requests a second instead of 3.3.
    expect(Math.max(...perRound)).toBeLessThanOrEqual(14);
    expect(new Set(calls).size).toBeGreaterThanOrEqual(990);
    expect(calls.length).toBeLessThanOrEqual(1000);
  });

  it("drops a listed project that a poll found gone once it is resolved again, and retries it with backoff", async () => {
    let now = 0;
    const { api, calls, gone } = fakeApi(3);
    const directory = new ProjectDirectory(api, { projects: ["team/svc-1", "team/svc-2", "team/svc-3"], groups: [], discoveryIntervalMs: INTERVAL_MS, now: () => now }, log);
    expect((await directory.discover()).map((p) => p.id)).toEqual([1, 2, 3]);
    gone.add(2);
    now = INTERVAL_MS;
    // Not due yet: the directory keeps what it knows until a poll says otherwise.
    calls.length = 0;
    expect((await directory.discover()).map((p) => p.id)).toEqual([1, 2, 3]);
    expect(calls).toEqual([]);
    directory.recheckSoon(2);
    now = 2 * INTERVAL_MS;
    expect((await directory.discover()).map((p) => p.id)).toEqual([1, 3]);
    expect(calls).toEqual(["team/svc-2"]);
    // Back: found again at its retry, one interval later.
    gone.delete(2);
    now = 3 * INTERVAL_MS;
    expect((await directory.discover()).map((p) => p.id)).toEqual([1, 2, 3]);
  });

  it("fails the round on anything but 404 or 403, so an outage never empties the watched set", async () => {
    const api = {
      async project() {
        throw new GitLabRequestError("GET /projects/:id: HTTP 502", 502, "http", "/projects/:id");
      },
      async groupProjects() {
        return [];
      },
    } as unknown as GitLabApi;
    const directory = new ProjectDirectory(api, { projects: ["a/b"], groups: [], discoveryIntervalMs: INTERVAL_MS }, log);
    // Thrown up with what it was reading, for the log line.
    await expect(directory.discover()).rejects.toMatchObject({ message: expect.stringMatching(/502/), subject: { listedProject: "a/b" } });
  });

  it("fails the round when a group's list goes on past the page cap, rather than watching a part of it", async () => {
    const api = {
      async project() {
        throw new Error("not listed");
      },
      async groupProjects() {
        throw new GitLabRequestError("GET /groups/:id/projects: the list goes on past 100 pages; not used", undefined, "protocol", "/groups/:id/projects");
      },
    } as unknown as GitLabApi;
    const directory = new ProjectDirectory(api, { projects: [], groups: ["acme"], discoveryIntervalMs: INTERVAL_MS }, log);
    await expect(directory.discover()).rejects.toMatchObject({ message: expect.stringMatching(/past 100 pages/), subject: { group: "acme" } });
  });
});

describe("ProjectDirectory's log lines", () => {
  it("name a group or project GitLab does not show this token, with the setting to check", async () => {
    const lines: string[] = [];
    const logged = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const api = {
      async project() {
        throw new GitLabRequestError("GET /projects/:id: HTTP 404", 404, "http", "/projects/:id", "gitlab.example.com");
      },
      async groupProjects() {
        throw new GitLabRequestError("GET /groups/:id/projects: HTTP 403", 403, "http", "/groups/:id/projects", "gitlab.example.com");
      },
    } as unknown as GitLabApi;
    await new ProjectDirectory(api, { projects: ["acme/ap"], groups: ["acme"], discoveryIntervalMs: INTERVAL_MS }, logged).discover();
    const [group, project] = lines.map((line) => JSON.parse(line) as { msg: string; group?: string; project?: string; gitlab: string });
    expect(group).toMatchObject({ group: "acme", gitlab: "gitlab.example.com", status: 403 });
    expect(group!.msg).toMatch(/^GitLab at gitlab\.example\.com refused the token access to group "acme" \(403\): .*Reporter role; skipped until the next discovery$/);
    expect(project).toMatchObject({ project: "acme/ap", status: 404, retryInMs: INTERVAL_MS });
    expect(project!.msg).toMatch(/has no project "acme\/ap" this token can see \(404\): check the path .* GITLAB_PROJECTS.*; skipped, tried again in 300 s$/);
  });
});
