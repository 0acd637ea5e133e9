import type { JobObservation } from "../../../domain/job.js";
import type { WatchedProject } from "../../../domain/events.js";
import type { Rejections } from "../../../lib/rejections.js";
import type { GitLabGraphql, GraphqlAnswer } from "./client.js";
import { INSTANCE_JOBS_QUERY, INSTANCE_PROBE_QUERY } from "./queries.js";
import type { SweepRead, SweptProject } from "./sweep.js";
import { idOfGlobalId, instanceJobsSchema, instanceProbeSchema, observeGraphqlJob, type InstanceJobs } from "./wire.js";

/** Pages of the instance's live jobs read per sweep: 10,000 live jobs. Past it, projects are read by REST. */
export const MAX_INSTANCE_PAGES = 100;

/**
 * The instance sweep, for a token of an administrator: every live job of the instance in
 * `ceil(live jobs / 100)` requests, whatever the number of projects. Jobs of projects the
 * exporter does not watch are passed over. It cannot tell what ended between two sweeps; a
 * tracked job that left the live list sends its project to REST.
 */
export class InstanceSweep {
  constructor(
    private readonly graphql: Pick<GitLabGraphql, "query">,
    private readonly rejections: Rejections,
  ) {}

  /** Whether the token sees the instance's jobs; GitLab answers anyone else with an empty list. */
  async seesInstance(): Promise<boolean> {
    const answer = await this.graphql.query(INSTANCE_PROBE_QUERY, {}, instanceProbeSchema);
    return (answer.data.jobs?.nodes ?? []).some((node) => node !== null);
  }

  async read(watched: readonly WatchedProject[]): Promise<SweepRead> {
    const byProject = new Map<number, JobObservation[]>(watched.map((p) => [p.id, []]));
    let after: string | null = null;
    let complete = false;
    let requests = 0;
    for (let page = 0; page < MAX_INSTANCE_PAGES; page++) {
      const answer: GraphqlAnswer<InstanceJobs> = await this.graphql.query(INSTANCE_JOBS_QUERY, { after }, instanceJobsSchema);
      requests++;
      const listed = answer.data.jobs;
      if (!listed) break;
      for (const node of listed.nodes) {
        const projectId = node?.project ? idOfGlobalId(node.project.id) : null;
        const jobs = projectId === null ? undefined : byProject.get(projectId);
        if (!node || projectId === null || !jobs) continue;
        const pipelineId = node.pipeline ? idOfGlobalId(node.pipeline.id) : null;
        const observation = observeGraphqlJob(node, projectId, pipelineId, answer.receivedAtMs, this.rejections);
        if (observation) jobs.push(observation);
      }
      // Complete only at the last page: "more, but no cursor to it" leaves jobs unread.
      if (!listed.pageInfo.hasNextPage) complete = true;
      if (!listed.pageInfo.hasNextPage || !listed.pageInfo.endCursor) break;
      after = listed.pageInfo.endCursor;
    }
    const projects = new Map<number, SweptProject>();
    for (const [projectId, jobs] of byProject) projects.set(projectId, { projectId, jobs, complete, ended: false });
    return { projects, requests };
  }
}
