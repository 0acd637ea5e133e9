import type { z } from "zod";
import type { JobObservation } from "../../../domain/job.js";
import type { WatchedProject } from "../../../domain/events.js";
import { BoundedMap } from "../../../lib/bounded-map.js";
import type { Rejections } from "../../../lib/rejections.js";
import { GraphqlQueryError, type GitLabGraphql } from "./client.js";
import { GROUP_PAGE_SIZE, GROUP_SWEEP_QUERY, PATHS_PER_REQUEST, PROJECTS_SWEEP_QUERY } from "./queries.js";
import { groupSweepSchema, idOfGlobalId, observeGraphqlJob, projectsSweepSchema, type SweptProjectNode } from "./wire.js";

/** What one sweep learned of one project. */
export interface SweptProject {
  readonly projectId: number;
  /** Its live jobs, as far as they were read. */
  readonly jobs: readonly JobObservation[];
  /** Every live job was read: a tracked live job not among them has ended or gone. */
  readonly complete: boolean;
  /** A pipeline changed since the previous sweep that holds no live job now: something ended, REST reads how. */
  readonly ended: boolean;
}

/** Group pages shrink to this at the least when GitLab finds a query too complex. */
export const MIN_GROUP_PAGE_SIZE = 10;
/** Projects whose last changes are remembered; beyond it a change may be reported twice (one REST read more). */
export const MAX_REMEMBERED_PROJECTS = 100_000;
/** Pages of one group read per sweep: 10,000 projects. More is read by REST alone. */
export const MAX_GROUP_PAGES = 100;

export interface SweepRead {
  /** Each project the sweep could read, once. */
  readonly projects: Map<number, SweptProject>;
  /** Requests it took. */
  readonly requests: number;
}

type Node = SweptProjectNode;
type LivePipelines = Node["running"];

/**
 * The group sweep: what is live in every watched project, 100 projects a request (a group's
 * projects, subgroups included), then 50 a request by id for the watched projects no group
 * listed. A group the token cannot see is skipped (discovery reports it); a project GitLab
 * could not resolve is left out, and the caller reads it by REST.
 */
export class GroupSweep {
  private groupPageSize = GROUP_PAGE_SIZE;
  /** The last ended changes seen per project, so an overlapping sweep does not report them again. */
  private readonly seenChanges = new BoundedMap<number, string>(MAX_REMEMBERED_PROJECTS);

  constructor(
    private readonly graphql: Pick<GitLabGraphql, "query">,
    private readonly groups: readonly string[],
    private readonly rejections: Rejections,
    private readonly log: { warn(object: object, message: string): void },
  ) {}

  /** `sinceIso`: pipelines updated at or after this (GitLab time) count as changed. */
  async read(watched: readonly WatchedProject[], sinceIso: string): Promise<SweepRead> {
    const ids = new Set(watched.map((p) => p.id));
    const projects = new Map<number, SweptProject>();
    let requests = 0;
    const keep = (node: Node | null, receivedAtMs: number) => {
      const swept = node && this.swept(node, receivedAtMs);
      if (swept && ids.has(swept.projectId)) projects.set(swept.projectId, swept);
    };
    for (const group of this.groups) {
      let after: string | null = null;
      for (let page = 0; page < MAX_GROUP_PAGES; page++) {
        const answer = await this.groupPage(group, after, sinceIso);
        requests += answer.requests;
        const listed = answer.data.group?.projects;
        if (!listed) break;
        for (const node of listed.nodes) keep(node, answer.receivedAtMs);
        if (!listed.pageInfo.hasNextPage || !listed.pageInfo.endCursor) break;
        after = listed.pageInfo.endCursor;
      }
    }
    const rest = watched.filter((p) => !projects.has(p.id)).map((p) => `gid://gitlab/Project/${p.id}`);
    for (let i = 0; i < rest.length; i += PATHS_PER_REQUEST) {
      const answer = await this.graphql.query(PROJECTS_SWEEP_QUERY, { ids: rest.slice(i, i + PATHS_PER_REQUEST), since: sinceIso }, projectsSweepSchema);
      requests++;
      for (const node of answer.data.projects?.nodes ?? []) keep(node, answer.receivedAtMs);
    }
    return { projects, requests };
  }

  /** One page; when GitLab finds it too complex (a GitLab that scores differently), pages get smaller. */
  private async groupPage(group: string, after: string | null, since: string): Promise<{ data: z.infer<typeof groupSweepSchema>; receivedAtMs: number; requests: number }> {
    for (let requests = 1; ; requests++) {
      try {
        const answer = await this.graphql.query(GROUP_SWEEP_QUERY, { group, first: this.groupPageSize, after, since }, groupSweepSchema);
        return { data: answer.data, receivedAtMs: answer.receivedAtMs, requests };
      } catch (error) {
        if (!(error instanceof GraphqlQueryError) || error.refusal !== "complexity" || this.groupPageSize <= MIN_GROUP_PAGE_SIZE) throw error;
        this.groupPageSize = Math.max(MIN_GROUP_PAGE_SIZE, Math.floor(this.groupPageSize / 2));
        this.log.warn({ group, pageSize: this.groupPageSize, reason: error.message }, "GitLab found the sweep query too complex; asking for fewer projects a request");
      }
    }
  }

  private swept(node: Node, receivedAtMs: number): SweptProject | null {
    const projectId = idOfGlobalId(node.id);
    if (projectId === null) return null;
    const kinds = [node.running, node.pending, node.childRunning, node.childPending];
    const jobs: JobObservation[] = [];
    const livePipelines = new Set<string>();
    let complete = kinds.every((kind) => kind !== null && !kind.pageInfo.hasNextPage);
    for (const kind of kinds) complete = this.collect(kind, projectId, receivedAtMs, jobs, livePipelines) && complete;
    return { projectId, jobs, complete, ended: this.endedSince(projectId, node, livePipelines) };
  }

  /**
   * A changed pipeline that holds no live job: something ended since the previous sweep. Sweeps
   * overlap in time, so the same change is seen twice; it counts once.
   */
  private endedSince(projectId: number, node: Node, livePipelines: ReadonlySet<string>): boolean {
    if (node.changed === null || node.childChanged === null) return true;
    const changes = [...node.changed.nodes, ...node.childChanged.nodes]
      .filter((p) => !livePipelines.has(p.id))
      .map((p) => `${p.id}@${p.updatedAt}`)
      .sort()
      .join(",");
    if (changes === "" || this.seenChanges.get(projectId) === changes) return false;
    this.seenChanges.touch(projectId, changes);
    return true;
  }

  /** The live jobs of one kind of pipeline; false when some were not read. */
  private collect(kind: LivePipelines, projectId: number, receivedAtMs: number, into: JobObservation[], livePipelines: Set<string>): boolean {
    let complete = true;
    for (const pipeline of kind?.nodes ?? []) {
      livePipelines.add(pipeline.id);
      if (!pipeline.jobs || pipeline.jobs.pageInfo.hasNextPage) complete = false;
      const pipelineId = idOfGlobalId(pipeline.id);
      for (const job of pipeline.jobs?.nodes ?? []) {
        const observation = observeGraphqlJob(job, projectId, pipelineId, receivedAtMs, this.rejections);
        if (observation) into.push(observation);
        else complete = false;
      }
    }
    return complete;
  }
}
