import type { z } from "zod";
import { describe, expect, it } from "vitest";
import type { WatchedProject } from "../../../../../src/domain/events.js";
import type { Rejections } from "../../../../../src/lib/rejections.js";
import { GraphqlQueryError, type GraphqlAnswer } from "../../../../../src/sources/gitlab/graphql/client.js";
import { GROUP_PAGE_SIZE, GROUP_SWEEP_QUERY, PATHS_PER_REQUEST, PROJECTS_SWEEP_QUERY } from "../../../../../src/sources/gitlab/graphql/queries.js";
import { GroupSweep, MIN_GROUP_PAGE_SIZE } from "../../../../../src/sources/gitlab/graphql/sweep.js";
import type { GraphqlJob, SweptProjectNode } from "../../../../../src/sources/gitlab/graphql/wire.js";

const SINCE = "2026-06-01T09:00:00Z";
const RECEIVED = Date.parse("2026-06-01T09:00:30Z");

type Kind = "running" | "pending" | "childRunning" | "childPending";
type Pipelines = NonNullable<SweptProjectNode["running"]>;

const gid = (model: string, id: number) => `gid://gitlab/${model}/${id}`;
const job = (id: number, status = "PENDING", overrides: Partial<GraphqlJob> = {}): GraphqlJob => ({ id: gid("Ci::Build", id), status, tags: ["docker"], queuedDuration: 5, startedAt: null, runner: null, ...overrides });
const pipeline = (id: number, jobs: GraphqlJob[], moreJobs = false): Pipelines["nodes"][number] => ({ id: gid("Ci::Pipeline", id), jobs: { pageInfo: { hasNextPage: moreJobs }, nodes: jobs } });
const pipelines = (nodes: Pipelines["nodes"], morePipelines = false): Pipelines => ({ pageInfo: { hasNextPage: morePipelines }, nodes });
const changes = (...list: Array<[number, string]>) => ({ nodes: list.map(([id, updatedAt]) => ({ id: gid("Ci::Pipeline", id), updatedAt })) });

/** A project as the sweep queries return it; nothing live and nothing changed unless said. */
function node(id: number, overrides: Partial<Omit<SweptProjectNode, "id">> = {}): SweptProjectNode {
  const none = pipelines([]);
  return { id: gid("Project", id), running: none, pending: none, childRunning: none, childPending: none, changed: changes(), childChanged: changes(), ...overrides };
}

const watched = (...ids: number[]): WatchedProject[] => ids.map((id) => ({ id, path: `acme/svc-${id}` }));

/**
 * GitLab's GraphQL as the sweep sees it: each group a list of project nodes, paged by the page
 * size asked; every other project found by path. Every query is written down; `refuseComplexity`
 * refuses group pages larger than it, as GitLab refuses a query scored too complex.
 */
class FakeGraphql {
  readonly calls: Array<{ query: "group" | "ids"; variables: Record<string, unknown> }> = [];
  readonly groups = new Map<string, Array<SweptProjectNode | null>>();
  readonly byId = new Map<string, SweptProjectNode | null>();
  refuseComplexityAbove = Number.POSITIVE_INFINITY;

  async query<T>(document: string, variables: Record<string, unknown>, schema: z.ZodType<T>): Promise<GraphqlAnswer<T>> {
    if (document === GROUP_SWEEP_QUERY) {
      this.calls.push({ query: "group", variables });
      const first = variables.first as number;
      if (first > this.refuseComplexityAbove) throw new GraphqlQueryError(`POST /graphql: Query has complexity of ${first * 3}, which exceeds max complexity of 250`, "complexity");
      const all = this.groups.get(variables.group as string);
      if (!all) return this.answer({ group: null }, schema);
      const start = variables.after === null ? 0 : Number(variables.after);
      const end = start + first;
      const pageInfo = { hasNextPage: end < all.length, endCursor: end < all.length ? String(end) : null };
      return this.answer({ group: { projects: { pageInfo, nodes: all.slice(start, end) } } }, schema);
    }
    if (document === PROJECTS_SWEEP_QUERY) {
      this.calls.push({ query: "ids", variables });
      const ids = variables.ids as string[];
      return this.answer({ projects: { nodes: ids.filter((id) => this.byId.has(id)).map((id) => this.byId.get(id)!) } }, schema);
    }
    throw new Error("unexpected query");
  }

  private answer<T>(data: unknown, schema: z.ZodType<T>): GraphqlAnswer<T> {
    // Through the client's own schema: what the fake answers is what GitLab could.
    return { data: schema.parse(data), partialErrors: [], receivedAtMs: RECEIVED };
  }
}

function sweep(groups: string[] = ["acme"]) {
  const graphql = new FakeGraphql();
  const warnings: Array<Record<string, unknown>> = [];
  const refused: string[] = [];
  const rejections: Rejections = { reject: (_, reason) => refused.push(reason) };
  const groupSweep = new GroupSweep(graphql, groups, rejections, { warn: (object) => warnings.push(object as Record<string, unknown>) });
  return { graphql, groupSweep, warnings, refused };
}

describe("GroupSweep", () => {
  it("reads every page of a group by its end cursor, and only the watched projects of it", async () => {
    const { graphql, groupSweep } = sweep();
    const ids = Array.from({ length: 250 }, (_, i) => i + 1);
    graphql.groups.set("acme", ids.map((id) => node(id, { pending: pipelines([pipeline(1000 + id, [job(10_000 + id)])]) })));
    const read = await groupSweep.read(watched(...ids.filter((id) => id % 2 === 0)), SINCE);
    expect(graphql.calls.map((c) => [c.variables.first, c.variables.after, c.variables.since])).toEqual([
      [GROUP_PAGE_SIZE, null, SINCE],
      [GROUP_PAGE_SIZE, "100", SINCE],
      [GROUP_PAGE_SIZE, "200", SINCE],
    ]);
    expect(read.requests).toBe(3);
    expect([...read.projects.keys()].sort((a, b) => a - b)).toEqual(ids.filter((id) => id % 2 === 0));
    expect(read.projects.get(4)).toEqual({
      projectId: 4,
      jobs: [expect.objectContaining({ id: 10_004, projectId: 4, pipelineId: 1004, status: "pending", tags: "docker", queuedAtMs: RECEIVED - 5_000 })],
      complete: true,
      ended: false,
    });
  });

  it("asks for the watched projects no group listed by id, 50 a request", async () => {
    const { graphql, groupSweep } = sweep();
    graphql.groups.set("acme", [node(1), node(2)]);
    const others = Array.from({ length: 120 }, (_, i) => 100 + i);
    for (const id of others) graphql.byId.set(`gid://gitlab/Project/${id}`, node(id, { running: pipelines([pipeline(id, [job(id * 10, "RUNNING")])]) }));
    // One GitLab could not resolve: left out, for REST to read.
    graphql.byId.set("gid://gitlab/Project/219", null);
    const read = await groupSweep.read(watched(1, 2, ...others), SINCE);
    const pathCalls = graphql.calls.filter((c) => c.query === "ids");
    expect(pathCalls.map((c) => (c.variables.ids as string[]).length)).toEqual([PATHS_PER_REQUEST, PATHS_PER_REQUEST, 20]);
    expect(pathCalls.flatMap((c) => c.variables.ids as string[])).toEqual(others.map((id) => `gid://gitlab/Project/${id}`));
    expect(pathCalls.every((c) => c.variables.since === SINCE)).toBe(true);
    expect(read.requests).toBe(4);
    expect(read.projects.size).toBe(2 + 119);
    expect(read.projects.has(219)).toBe(false);
    expect(read.projects.get(150)?.jobs.map((j) => `${j.id}:${j.status}`)).toEqual(["1500:running"]);
  });

  it("skips a group the token cannot see, and passes over projects not watched and ids it cannot read", async () => {
    const { graphql, groupSweep } = sweep(["hidden", "acme"]);
    graphql.groups.set("acme", [node(1), node(666, { pending: pipelines([pipeline(9, [job(99)])]) }), null, { ...node(2), id: "gid://gitlab/Project/x" }]);
    const read = await groupSweep.read(watched(1), SINCE);
    expect(graphql.calls.map((c) => `${c.query}:${String(c.variables.group)}`)).toEqual(["group:hidden", "group:acme"]);
    expect([...read.projects.keys()]).toEqual([1]);
  });

  it("says a project is complete only when no list of pipelines or jobs was cut short", async () => {
    const { graphql, groupSweep } = sweep();
    const live = (kind: Kind, morePipelines: boolean, moreJobs: boolean) => ({ [kind]: pipelines([pipeline(1, [job(1)], moreJobs)], morePipelines) });
    graphql.groups.set("acme", [
      node(1, live("running", false, false)),
      node(2, live("pending", true, false)),
      node(3, live("childRunning", false, true)),
      node(4, live("childPending", true, false)),
      node(5, { pending: null }),
      node(6, { running: pipelines([{ id: gid("Ci::Pipeline", 6), jobs: null }]) }),
      // A job GitLab lists that the exporter cannot read leaves the picture incomplete too.
      node(7, { running: pipelines([pipeline(7, [job(70, "WAITING_FOR_CALLBACK"), job(71, "RUNNING")])]) }),
    ]);
    const read = await groupSweep.read(watched(1, 2, 3, 4, 5, 6, 7), SINCE);
    expect([...read.projects.values()].map((p) => `${p.projectId}:${p.complete}`)).toEqual(["1:true", "2:false", "3:false", "4:false", "5:false", "6:false", "7:false"]);
    expect(read.projects.get(7)?.jobs.map((j) => j.id)).toEqual([71]);
  });

  it("reads live jobs of every kind of pipeline, child pipelines included", async () => {
    const { graphql, groupSweep } = sweep();
    graphql.groups.set("acme", [
      node(1, {
        running: pipelines([pipeline(10, [job(101, "RUNNING", { startedAt: "2026-06-01T08:59:00Z" })])]),
        pending: pipelines([pipeline(11, [job(111, "PENDING")])]),
        childRunning: pipelines([pipeline(12, [job(121, "CREATED")])]),
        childPending: pipelines([pipeline(13, [job(131, "PREPARING")])]),
      }),
    ]);
    const read = await groupSweep.read(watched(1), SINCE);
    expect(read.projects.get(1)?.jobs.map((j) => `${j.id}:${j.status}:${j.pipelineId}`)).toEqual(["101:running:10", "111:pending:11", "121:created:12", "131:preparing:13"]);
  });

  it("reports a changed pipeline that holds no live job as ended, once, and a live one not at all", async () => {
    const { graphql, groupSweep } = sweep();
    const livePipeline = pipelines([pipeline(20, [job(200, "RUNNING")])]);
    graphql.groups.set("acme", [
      node(1, { changed: changes([10, "2026-06-01T09:00:10Z"]) }),
      node(2, { running: livePipeline, changed: changes([20, "2026-06-01T09:00:10Z"]) }),
      node(3, { childChanged: changes([30, "2026-06-01T09:00:12Z"]) }),
      node(4),
      node(5, { changed: null }),
    ]);
    const ended = async () => {
      const read = await groupSweep.read(watched(1, 2, 3, 4, 5), SINCE);
      return [...read.projects.values()].filter((p) => p.ended).map((p) => p.projectId);
    };
    expect(await ended()).toEqual([1, 3, 5]);
    // The next sweep overlaps the last: the same changes are seen again, and not reported twice
    // (a project GitLab could not tell about is, every time).
    expect(await ended()).toEqual([5]);
    // The same pipeline changed again, a new pipeline changed, the live one finished.
    graphql.groups.set("acme", [
      node(1, { changed: changes([10, "2026-06-01T09:00:40Z"]) }),
      node(2, { changed: changes([20, "2026-06-01T09:00:41Z"]) }),
      node(3, { changed: changes([31, "2026-06-01T09:00:12Z"]), childChanged: changes([30, "2026-06-01T09:00:12Z"]) }),
      node(4),
      node(5, { changed: changes() }),
    ]);
    expect(await ended()).toEqual([1, 2, 3]);
  });

  it("halves the page when GitLab finds the query too complex, retries the page, and keeps the smaller size", async () => {
    const { graphql, groupSweep, warnings } = sweep();
    graphql.refuseComplexityAbove = 50;
    const ids = Array.from({ length: 120 }, (_, i) => i + 1);
    graphql.groups.set("acme", ids.map((id) => node(id)));
    const read = await groupSweep.read(watched(...ids), SINCE);
    expect(graphql.calls.map((c) => `${String(c.variables.first)}@${String(c.variables.after)}`)).toEqual(["100@null", "50@null", "50@50", "50@100"]);
    expect(read.requests).toBe(4);
    expect(read.projects.size).toBe(120);
    expect(warnings).toEqual([expect.objectContaining({ group: "acme", pageSize: 50 })]);

    graphql.calls.length = 0;
    await groupSweep.read(watched(...ids), SINCE);
    expect(graphql.calls.map((c) => c.variables.first)).toEqual([50, 50, 50]);
  });

  it("stops halving at the smallest page and lets the refusal through; other failures pass at once", async () => {
    const { graphql, groupSweep } = sweep();
    graphql.refuseComplexityAbove = 0;
    graphql.groups.set("acme", [node(1)]);
    await expect(groupSweep.read(watched(1), SINCE)).rejects.toMatchObject({ refusal: "complexity" });
    expect(graphql.calls.map((c) => c.variables.first)).toEqual([100, 50, 25, 12, MIN_GROUP_PAGE_SIZE]);

    const failing = new GroupSweep(
      { query: () => Promise.reject(new GraphqlQueryError("POST /graphql: Field 'x' doesn't exist", "query")) },
      ["acme"],
      { reject() {} },
      { warn() {} },
    );
    await expect(failing.read(watched(1), SINCE)).rejects.toMatchObject({ refusal: "query" });
  });
});
