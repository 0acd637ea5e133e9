import type { z } from "zod";
import { describe, expect, it } from "vitest";
import type { WatchedProject } from "../../../../../src/domain/events.js";
import type { GraphqlAnswer } from "../../../../../src/sources/gitlab/graphql/client.js";
import { MAX_INSTANCE_PAGES, InstanceSweep } from "../../../../../src/sources/gitlab/graphql/instance.js";
import { INSTANCE_JOBS_QUERY, INSTANCE_PAGE_SIZE, INSTANCE_PROBE_QUERY } from "../../../../../src/sources/gitlab/graphql/queries.js";

const RECEIVED = Date.parse("2026-06-01T09:00:30Z");

interface InstanceJob {
  readonly id: number;
  readonly projectId: number | null;
  readonly status?: string;
  readonly pipelineId?: number;
}

const gid = (model: string, id: number) => `gid://gitlab/${model}/${id}`;

/**
 * `Query.jobs` of an instance: the live jobs listed `INSTANCE_PAGE_SIZE` a page, newest first,
 * with the page boundaries GitLab would give unless `pageInfo` overrides them.
 */
class FakeInstance {
  readonly calls: Array<{ document: string; variables: Record<string, unknown> }> = [];
  jobs: InstanceJob[] = [];
  probeNodes: unknown = [];
  pageInfo: ((page: number) => { hasNextPage: boolean; endCursor: string | null }) | null = null;
  nullJobs = false;

  async query<T>(document: string, variables: Record<string, unknown>, schema: z.ZodType<T>): Promise<GraphqlAnswer<T>> {
    this.calls.push({ document, variables });
    if (document === INSTANCE_PROBE_QUERY) return this.answer({ jobs: this.probeNodes === null ? null : { nodes: this.probeNodes } }, schema);
    if (document !== INSTANCE_JOBS_QUERY) throw new Error("unexpected query");
    if (this.nullJobs) return this.answer({ jobs: null }, schema);
    const start = variables.after === null ? 0 : Number(variables.after);
    const end = start + INSTANCE_PAGE_SIZE;
    const page = start / INSTANCE_PAGE_SIZE;
    const pageInfo = this.pageInfo?.(page) ?? { hasNextPage: end < this.jobs.length, endCursor: end < this.jobs.length ? String(end) : null };
    const nodes = this.jobs.slice(start, end).map((j) => ({
      id: gid("Ci::Build", j.id),
      status: j.status ?? "PENDING",
      tags: ["docker"],
      queuedDuration: 1,
      startedAt: null,
      runner: null,
      pipeline: j.pipelineId === undefined ? null : { id: gid("Ci::Pipeline", j.pipelineId) },
      project: j.projectId === null ? null : { id: gid("Project", j.projectId) },
    }));
    return this.answer({ jobs: { pageInfo, nodes } }, schema);
  }

  private answer<T>(data: unknown, schema: z.ZodType<T>): GraphqlAnswer<T> {
    return { data: schema.parse(data), partialErrors: [], receivedAtMs: RECEIVED };
  }
}

const watched = (...ids: number[]): WatchedProject[] => ids.map((id) => ({ id, path: `acme/svc-${id}` }));

function instance() {
  const graphql = new FakeInstance();
  const refused: string[] = [];
  return { graphql, refused, sweep: new InstanceSweep(graphql, { reject: (_, reason) => refused.push(reason) }) };
}

describe("InstanceSweep", () => {
  it("sees the instance when the probe lists a job; an empty list (a token not an administrator's) does not", async () => {
    const { graphql, sweep } = instance();
    graphql.probeNodes = [{ id: gid("Ci::Build", 1) }];
    expect(await sweep.seesInstance()).toBe(true);
    graphql.probeNodes = [];
    expect(await sweep.seesInstance()).toBe(false);
    graphql.probeNodes = [null];
    expect(await sweep.seesInstance()).toBe(false);
    graphql.probeNodes = null;
    expect(await sweep.seesInstance()).toBe(false);
    expect(graphql.calls.every((c) => c.document === INSTANCE_PROBE_QUERY)).toBe(true);
  });

  it("groups the live jobs by watched project, passing over the others, every watched project with a verdict", async () => {
    const { graphql, sweep, refused } = instance();
    graphql.jobs = [
      { id: 11, projectId: 1, status: "RUNNING", pipelineId: 100 },
      { id: 12, projectId: 2 },
      { id: 13, projectId: 99 },
      { id: 14, projectId: 1, status: "PENDING" },
      { id: 15, projectId: null },
      { id: 16, projectId: 2, status: "NOT_A_STATUS" },
    ];
    const read = await sweep.read(watched(1, 2, 3));
    expect(read.requests).toBe(1);
    expect(graphql.calls.map((c) => c.variables)).toEqual([{ after: null }]);
    const summary = [...read.projects.values()].map((p) => ({ projectId: p.projectId, jobs: p.jobs.map((j) => `${j.id}:${j.status}:${j.pipelineId}`), complete: p.complete, ended: p.ended }));
    expect(summary).toEqual([
      { projectId: 1, jobs: ["11:running:100", "14:pending:null"], complete: true, ended: false },
      { projectId: 2, jobs: ["12:pending:null"], complete: true, ended: false },
      { projectId: 3, jobs: [], complete: true, ended: false },
    ]);
    expect(read.projects.get(1)?.jobs[1]?.queuedAtMs).toBe(RECEIVED - 1_000);
    // The one with a status the exporter does not know is counted; the unwatched ones are not read at all.
    expect(refused).toEqual(["schema"]);
  });

  it("follows the pages to the last, and says complete only then", async () => {
    const { graphql, sweep } = instance();
    graphql.jobs = Array.from({ length: 250 }, (_, i) => ({ id: i + 1, projectId: (i % 3) + 1 }));
    const read = await sweep.read(watched(1, 2));
    expect(graphql.calls.map((c) => c.variables.after)).toEqual([null, "100", "200"]);
    expect(read.requests).toBe(3);
    expect(read.projects.get(1)?.jobs.length).toBe(84);
    expect(read.projects.get(2)?.jobs.length).toBe(83);
    expect([...read.projects.values()].every((p) => p.complete)).toBe(true);
  });

  it("stops at the page cap, incomplete", async () => {
    const { graphql, sweep } = instance();
    graphql.jobs = [{ id: 1, projectId: 1 }];
    graphql.pageInfo = (page) => ({ hasNextPage: true, endCursor: String((page + 1) * INSTANCE_PAGE_SIZE) });
    const read = await sweep.read(watched(1));
    expect(read.requests).toBe(MAX_INSTANCE_PAGES);
    expect(read.projects.get(1)).toMatchObject({ complete: false, jobs: [expect.objectContaining({ id: 1 })] });
  });

  it("is incomplete when GitLab says there is more but gives no cursor to it, or lists nothing", async () => {
    const { graphql, sweep } = instance();
    graphql.jobs = [{ id: 1, projectId: 1 }];
    graphql.pageInfo = () => ({ hasNextPage: true, endCursor: null });
    const cut = await sweep.read(watched(1));
    expect(cut.requests).toBe(1);
    expect(cut.projects.get(1)?.complete).toBe(false);

    graphql.nullJobs = true;
    const none = await sweep.read(watched(1));
    expect(none.projects.get(1)).toMatchObject({ complete: false, jobs: [] });
  });
});
