import { afterEach, describe, expect, it } from "vitest";
import { json, loopbackApi, serveLoopback, type LoopbackServer } from "../../../helpers/loopback.js";

let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const job = (id: number, extra: Record<string, unknown> = {}) => ({
  id,
  status: "pending",
  tag_list: ["docker"],
  created_at: "2026-11-24T09:00:00.000Z",
  started_at: null,
  finished_at: null,
  queued_duration: 1.5,
  duration: null,
  ...extra,
});

describe("GitLabApi list entries that fail their schema", () => {
  it("are left out one by one, each counted with its endpoint and what was wrong", async () => {
    server = await serveLoopback((_, response) =>
      json(response, 200, [
        { id: "1", path_with_namespace: "acme/one" },
        { id: 2, path_with_namespace: "acme/two" },
        { id: 3 },
      ]),
    );
    const { api, rejected } = loopbackApi(server.url);

    expect(await api.groupProjects("acme")).toEqual([{ id: 2, path_with_namespace: "acme/two" }]);
    expect(rejected).toHaveLength(2);
    expect(rejected.map((r) => [r.source, r.reason, r.detail?.["endpoint"], r.detail?.["id"]])).toEqual([
      ["gitlab_api", "schema", "/groups/:id/projects", '"1"'],
      ["gitlab_api", "schema", "/groups/:id/projects", "3"],
    ]);
    expect(String(rejected[0]!.detail?.["issue"])).toMatch(/^id: /);
    expect(String(rejected[1]!.detail?.["issue"])).toMatch(/^path_with_namespace: /);
  });

  it("are counted on job pages too, under the page's endpoint", async () => {
    server = await serveLoopback((_, response) => json(response, 200, [job(11), job(12, { status: 42 })], { "x-next-page": "" }));
    const { api, rejected } = loopbackApi(server.url);

    const page = await api.pipelineJobsPage(1, 5, 1, 100);
    expect(page.jobs.map((j) => j.id)).toEqual([11]);
    expect(rejected.map((r) => [r.reason, r.detail?.["endpoint"], r.detail?.["id"]])).toEqual([["schema", "/projects/:id/pipelines/:pipeline_id/jobs", "12"]]);
  });
});
