import { afterEach, describe, expect, it } from "vitest";
import { attempt, type AttemptOptions } from "../../../../src/sources/gitlab/attempt.js";
import { GitLabClock } from "../../../../src/sources/gitlab/clock.js";
import { json, serveLoopback, type LoopbackServer } from "../../../helpers/loopback.js";

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** One attempt at `path` of a server answering with `handler`, and what was refused meanwhile. */
async function attemptAgainst(handler: Parameters<typeof serveLoopback>[0], path = "projects/1/jobs", overrides: Partial<AttemptOptions> = {}) {
  const server = await serveLoopback(handler);
  servers.push(server);
  const rejected: string[] = [];
  const options: AttemptOptions = {
    requestTimeoutMs: 2_000,
    maxResponseBytes: 1024,
    rejections: { reject: (source, reason) => void rejected.push(`${source}/${reason}`) },
    now: Date.now,
    ...overrides,
  };
  const url = new URL(`${server.url}/api/v4/${path}`);
  const outcome = await attempt(url, { method: "GET" }, "/projects/:id/jobs", options);
  return { outcome, rejected, server };
}

describe("one attempt", () => {
  it("returns a JSON answer with its headers and status", async () => {
    const { outcome } = await attemptAgainst((_, response) => json(response, 200, [{ id: 7 }], { "x-next-page": "" }));
    expect(outcome.kind).toBe("ok");
    expect(outcome.code).toBe("200");
    if (outcome.kind === "ok") expect(outcome.response.body).toEqual([{ id: 7 }]);
  });

  it.each([
    [500, "transient"],
    [503, "transient"],
    [404, "fatal"],
    [401, "fatal"],
  ] as const)("classifies HTTP %i as %s and names GitLab's message", async (status, kind) => {
    const { outcome } = await attemptAgainst((_, response) => json(response, status, { message: "it went wrong" }));
    expect(outcome).toMatchObject({ kind, code: String(status) });
    if (outcome.kind !== "ok") expect(outcome.error).toMatchObject({ status, kind: "http", endpoint: "/projects/:id/jobs", message: "GET /projects/:id/jobs: HTTP " + status + " (it went wrong)" });
  });

  it("names the host it asked, and the network's code when no answer came", async () => {
    const { outcome, server } = await attemptAgainst((_, response) => json(response, 401, { message: "401 Unauthorized" }));
    if (outcome.kind !== "ok") expect(outcome.error).toMatchObject({ status: 401, host: new URL(server.url).host, networkCode: undefined });
    const closed = new URL(server.url);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const refused = await attempt(new URL(`${closed.origin}/api/v4/projects/1/jobs`), { method: "GET" }, "/projects/:id/jobs", { requestTimeoutMs: 2_000, maxResponseBytes: 1024, rejections: { reject: () => undefined }, now: Date.now });
    expect(refused).toMatchObject({ kind: "transient", error: { kind: "network", host: closed.host, networkCode: "ECONNREFUSED", message: "GET /projects/:id/jobs: ECONNREFUSED" } });
  });

  it("reads a 429's Retry-After", async () => {
    const { outcome } = await attemptAgainst((_, response) => json(response, 429, { message: "429 Too Many Requests" }, { "retry-after": "3" }));
    expect(outcome).toMatchObject({ kind: "rate-limited", code: "429", retryAfterMs: 3000 });
  });

  it("takes an answer that is not JSON, or malformed JSON, for a passing fault", async () => {
    const html = await attemptAgainst((_, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<html>portal</html>");
    });
    expect(html.outcome).toMatchObject({ kind: "transient", error: { kind: "protocol", message: "GET /projects/:id/jobs: expected JSON, got text/html" } });
    const broken = await attemptAgainst((_, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end("[{");
    });
    expect(broken.outcome).toMatchObject({ kind: "transient", error: { kind: "protocol", message: "GET /projects/:id/jobs: malformed JSON (2 bytes)" } });
  });

  it("refuses, counts and does not retry an answer over the size cap", async () => {
    const { outcome, rejected } = await attemptAgainst((_, response) => json(response, 200, "x".repeat(4096)));
    expect(outcome).toMatchObject({ kind: "fatal", error: { kind: "protocol" } });
    expect(rejected).toEqual(["gitlab_api/response_too_large"]);
  });

  it("refuses a pagination link back to the same page, whatever the order of its query", async () => {
    const { outcome } = await attemptAgainst(
      (request, response) => json(response, 200, [], { link: `<http://${request.headers.host}/api/v4/projects/1/jobs?b=2&a=1>; rel="next"` }),
      "projects/1/jobs?a=1&b=2",
    );
    expect(outcome).toMatchObject({ kind: "fatal", error: { message: "GET /projects/:id/jobs: pagination link points back to the same page" } });
  });

  it("does not follow a redirect", async () => {
    const { outcome, server } = await attemptAgainst((_, response) => {
      response.writeHead(302, { location: "https://elsewhere.example/login?token=secret" });
      response.end();
    });
    expect(outcome).toMatchObject({ kind: "fatal", code: "302" });
    if (outcome.kind !== "ok") expect(outcome.error.message).toContain("redirect to https://elsewhere.example, not followed");
    if (outcome.kind !== "ok") expect(outcome.error.message).not.toContain("secret");
    expect(server.requests).toHaveLength(1);
  });

  it("takes no answer within the deadline for a timeout", async () => {
    const { outcome } = await attemptAgainst(() => undefined, "projects/1/jobs", { requestTimeoutMs: 100 });
    expect(outcome).toMatchObject({ kind: "transient", code: "error", error: { kind: "timeout", message: "GET /projects/:id/jobs: no complete response within 100 ms" } });
  });

  it("tells the clock GitLab's time from JSON answers only", async () => {
    const gitlabTime = new Date(Date.now() + 60_000).toUTCString();
    const clock = new GitLabClock();
    await attemptAgainst((_, response) => {
      response.writeHead(200, { "content-type": "text/html", date: gitlabTime });
      response.end("<html></html>");
    }, "projects/1/jobs", { clock });
    expect(clock.known).toBe(false);
    await attemptAgainst((_, response) => json(response, 200, [], { date: gitlabTime }), "projects/1/jobs", { clock });
    expect(clock.known).toBe(true);
  });
});
