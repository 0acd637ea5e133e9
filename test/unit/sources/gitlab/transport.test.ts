import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_LISTING_PAGES } from "../../../../src/sources/gitlab/api.js";
import { RequestBudget } from "../../../../src/sources/gitlab/budget.js";
import { retryAfterMs } from "../../../../src/sources/gitlab/retry-after.js";
import { GitLabRequestError } from "../../../../src/sources/gitlab/request-error.js";
import { json, loopbackApi, serveLoopback, TOKEN, type LoopbackServer } from "../../../helpers/loopback.js";

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function serve(...args: Parameters<typeof serveLoopback>): Promise<LoopbackServer> {
  const server = await serveLoopback(...args);
  servers.push(server);
  return server;
}

async function failure(promise: Promise<unknown>): Promise<GitLabRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitLabRequestError);
  return error as GitLabRequestError;
}

/** Chunks for ever, as fast as the reader takes them; ends when the connection is dropped. */
function endless(chunk: Buffer): Readable {
  return new Readable({
    read() {
      this.push(chunk);
    },
  });
}

describe("redirects", () => {
  it("are not followed: the token stays with GitLab, the error names the target's origin only, counted with its status", async () => {
    const other = await serve((_, response) => json(response, 200, { id: 1, path_with_namespace: "acme/api" }));
    const gitlab = await serve((_, response) => {
      response.writeHead(302, { location: `${other.url}/api/v4/projects/1?private_token=${TOKEN}&session=s3cr3t` });
      response.end();
    });
    const { api, codes } = loopbackApi(gitlab.url);

    const error = await failure(api.project(1));
    expect(other.requests).toEqual([]);
    expect(gitlab.requests).toHaveLength(1);
    expect(codes).toEqual(["302"]);
    expect(error.status).toBe(302);
    expect(error.message).toContain(`redirect to ${other.url},`);
    expect(error.message).toContain("GITLAB_URL");
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).not.toMatch(/s3cr3t|private_token|\/api\/v4/);
  });

  it("to https on the same host say so (an http:// GITLAB_URL behind a redirecting proxy)", async () => {
    const gitlab = await serve((_, response) => {
      response.writeHead(301, { location: "https://gitlab.example.com/api/v4/projects/1" });
      response.end();
    });
    const { api, codes } = loopbackApi(gitlab.url);
    const error = await failure(api.project(1));
    expect(error.message).toContain("redirect to https://gitlab.example.com,");
    expect(codes).toEqual(["301"]);
  });
});

describe("answer size", () => {
  it("cuts a body that never ends at the cap, long before the request deadline", async () => {
    let closed = false;
    const gitlab = await serve((request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write("[");
      request.socket.on("close", () => (closed = true));
      void pipeline(endless(Buffer.from('{"id":1,"path_with_namespace":"acme/api"},'.repeat(100))), response).catch(() => undefined);
    });
    const { api, rejected } = loopbackApi(gitlab.url, { maxResponseBytes: 1 << 20, requestTimeoutMs: 20_000 });
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();

    const error = await failure(api.groupProjects("acme"));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.message).toContain("GITLAB_MAX_RESPONSE_BYTES");
    expect(rejected.map((r) => `${r.source}/${r.reason}`)).toEqual(["gitlab_api/response_too_large"]);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 << 20);
    // The download was dropped, not drained; and it is not retried.
    await expect.poll(() => closed).toBe(true);
    expect(gitlab.requests).toHaveLength(1);
  });

  it("counts a gzip body after decompression: a bomb is cut at the cap, with bounded memory", async () => {
    let compressedBytes = 0;
    const gitlab = await serve((_, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      const gzip = createGzip();
      gzip.on("data", (chunk: Buffer) => (compressedBytes += chunk.length));
      // JSON whitespace for ever: about 1,000 times smaller compressed.
      void pipeline(endless(Buffer.alloc(64 * 1024, " ")), gzip, response).catch(() => undefined);
    });
    const maxResponseBytes = 8 << 20;
    const { api, rejected } = loopbackApi(gitlab.url, { maxResponseBytes });
    const rssBefore = process.memoryUsage().rss;

    await failure(api.project(1));
    expect(rejected.map((r) => r.reason)).toEqual(["response_too_large"]);
    expect(compressedBytes).toBeLessThan(maxResponseBytes / 10);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 << 20);
  });

  it("reads answers under the cap whole", async () => {
    const projects = Array.from({ length: 100 }, (_, i) => ({ id: i + 1, path_with_namespace: `acme/p${i + 1}` }));
    const gitlab = await serve((_, response) => json(response, 200, projects));
    const { api, rejected } = loopbackApi(gitlab.url, { maxResponseBytes: 1 << 20 });
    expect(await api.groupProjects("acme")).toHaveLength(100);
    expect(rejected).toEqual([]);
  });
});

describe("pagination", () => {
  it.each([
    ["an offset link without per_page, one entry a page", "/api/v4/groups/acme/projects", (page: number) => [{ id: page, path_with_namespace: `acme/p${page}` }], (page: number) => `page=${page + 1}`],
    ["a keyset link with empty pages", "/api/v4/projects/1/jobs", () => [], (page: number) => `pagination=keyset&id_after=${1_000_000 - page}`],
  ])("stops at the page cap whatever the Link header says: %s", async (_, path, entries, nextQuery) => {
    let served = 0;
    const gitlab = await serve((_, response, url) => {
      expect(url.pathname).toBe(path);
      served++;
      json(response, 200, entries(served), { link: `<${gitlabUrl}${path}?${nextQuery(served)}>; rel="next"` });
    });
    const gitlabUrl = gitlab.url;
    const { api, rejected } = loopbackApi(gitlab.url);

    const listing = path.includes("groups") ? api.groupProjects("acme") : api.liveJobs(1);
    const error = await failure(listing);
    expect(error.message).toContain(`past ${MAX_LISTING_PAGES} pages`);
    expect(served).toBe(MAX_LISTING_PAGES);
    expect(rejected.map((r) => `${r.source}/${r.reason}`)).toEqual(["gitlab_api/too_many_pages"]);
  });
});

describe("Retry-After", () => {
  it.each(["-5", "0", "soon", undefined])("%s falls back to an exponential backoff", async (header) => {
    const arrivals: number[] = [];
    const gitlab = await serve((_, response) => {
      arrivals.push(Date.now());
      json(response, 429, { message: "429 Too Many Requests" }, header === undefined ? {} : { "retry-after": header });
    });
    const { api, waits, codes } = loopbackApi(gitlab.url, { rateLimitBackoff: { initialMs: 40, maxMs: 400 }, random: () => 1 });

    const error = await failure(api.project(1));
    expect(error.status).toBe(429);
    expect(codes).toEqual(["429", "429", "429", "429"]);
    expect(waits).toEqual([40, 80, 160, 320]);
    const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(waits[i]! - 5));
  });

  it("absent on one route's own limit: that route's 429s in a row back off further even while other routes answer, and the budget slows", async () => {
    // GitLab's project jobs limit: a JSON 429 without Retry-After or RateLimit-*, other endpoints fine.
    const gitlab = await serve((_, response, url) => {
      if (url.pathname.endsWith("/jobs")) json(response, 429, { message: { error: "This endpoint has been requested too many times. Try again later." } });
      else json(response, 200, { id: 1, path_with_namespace: "acme/api" });
    });
    const budget = new RequestBudget(1000, 4);
    const waits: number[] = [];
    const rates: number[] = [];
    const onRateLimited = (_: string, waitMs: number, rate: number) => {
      waits.push(waitMs);
      rates.push(rate);
    };
    const { api, codes } = loopbackApi(gitlab.url, { budget, rateLimitBackoff: { initialMs: 20, maxMs: 400 }, random: () => 1, onRateLimited });

    expect((await failure(api.liveJobs(1))).status).toBe(429);
    expect((await api.project(1)).id).toBe(1);
    expect((await failure(api.liveJobs(1))).status).toBe(429);
    expect(codes).toEqual(["429", "429", "429", "429", "200", "429", "429", "429", "429"]);
    expect(waits).toEqual([20, 40, 80, 160, 320, 400, 400, 400]);
    // Halved per 429 down to 1/16 of the configured rate (it grows back a little meanwhile).
    [500, 250, 125, 62.5, 62.5, 62.5, 62.5, 62.5].forEach((rate, i) => {
      expect(rates[i]).toBeGreaterThanOrEqual(rate);
      expect(rates[i]).toBeLessThan(rate + 10);
    });
  });

  it("is not taken as a longer refusal from requests already on their way when the first 429 came back", async () => {
    // Four requests reach GitLab together and all get a 429: one refusal, one backoff step.
    const held: Array<() => void> = [];
    let served = 0;
    const gitlab = await serve((_, response) => {
      if (++served > 4) return json(response, 200, { id: 1, path_with_namespace: "acme/api" });
      held.push(() => json(response, 429, { message: "429 Too Many Requests" }));
      if (held.length === 4) for (const answer of held) answer();
    });
    const budget = new RequestBudget(1000, 4);
    const { api, waits } = loopbackApi(gitlab.url, { budget, rateLimitBackoff: { initialMs: 50, maxMs: 400 }, random: () => 1 });
    const projects = await Promise.all([1, 2, 3, 4].map(() => api.project(1)));
    expect(projects.map((p) => p.id)).toEqual([1, 1, 1, 1]);
    expect(waits).toEqual([50, 50, 50, 50]);
    expect(budget.ratePerSecond).toBeCloseTo(500, 0);
  });

  it("is honoured when it names a wait", async () => {
    let served = 0;
    const gitlab = await serve((_, response) => {
      if (served++ === 0) json(response, 429, { message: "429 Too Many Requests" }, { "retry-after": "1" });
      else json(response, 200, { id: 1, path_with_namespace: "acme/api" });
    });
    const { api, waits } = loopbackApi(gitlab.url, { rateLimitBackoff: { initialMs: 40, maxMs: 400 } });
    const started = Date.now();
    expect((await api.project(1)).id).toBe(1);
    expect(waits).toEqual([1000]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it("is read as seconds or an HTTP date, capped at 15 minutes; unusable values give undefined", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterMs("30", now)).toBe(30_000);
    expect(retryAfterMs(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    expect(retryAfterMs("86400", now)).toBe(15 * 60_000);
    for (const unusable of [undefined, "", "-5", "0", "soon", new Date(now - 1_000).toUTCString()]) {
      expect(retryAfterMs(unusable, now)).toBeUndefined();
    }
  });
});

describe("transient failures", () => {
  it("are tried once more after a pause, then given up to the next poll", async () => {
    const arrivals: number[] = [];
    const gitlab = await serve((_, response) => {
      arrivals.push(Date.now());
      json(response, 502, { message: "502 Bad Gateway" });
    });
    const { api, codes } = loopbackApi(gitlab.url);
    const error = await failure(api.project(1));
    expect(error.status).toBe(502);
    expect(codes).toEqual(["502", "502"]);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(990);
  });

  it("are not tried again when the answer is final (4xx)", async () => {
    const gitlab = await serve((_, response) => json(response, 404, { message: "404 Project Not Found" }));
    const { api, codes } = loopbackApi(gitlab.url);
    expect((await failure(api.project(1))).status).toBe(404);
    expect(codes).toEqual(["404"]);
  });
});
