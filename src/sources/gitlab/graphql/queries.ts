/**
 * The GraphQL queries of the sweep, written against GitLab's published schema
 * (`doc/api/graphql/reference/_index.md`; types in `app/graphql/types/`, resolvers in
 * `app/graphql/resolvers/`). Each stays within GitLab's limits for an authenticated user
 * (`app/graphql/gitlab_schema.rb`): complexity 250, 10,000 characters, 100 nodes a page; a test
 * scores every query with GitLab's formula against the simulator's copy of the schema.
 *
 * Field by field (the version each appeared in is in README "Compatibility"):
 * - `Group.projects(includeSubgroups:, first:, after:)`, `Query.projects(ids:)`: the watched
 *   projects, 100 (groups) or 50 (by id) per request.
 * - `Project.pipelines(scope: RUNNING | PENDING)`: the pipelines that hold live jobs. Child
 *   pipelines are left out of `pipelines` unless `source: "parent_pipeline"` is asked
 *   (`Ci::PipelinesFinder`), so they are asked for apart: a child can run on after its parent
 *   finished.
 * - `Project.pipelines(updatedAfter:)`: whether anything changed since the previous sweep, so a
 *   job that started and finished between two sweeps is still read (by REST) soon.
 * - `Pipeline.jobs(statuses:)` and `CiJob { id status tags queuedDuration startedAt runner }`:
 *   what a live job is. GraphQL has no machine-readable failure reason, so how jobs end is
 *   always read from REST or hooks; the sweep reads only live jobs.
 * - `Query.jobs(statuses:)`: every live job of the instance, for administrators only (anyone
 *   else gets an empty list, not an error: `JobsFinder#all_jobs`). On current GitLab its nodes
 *   are `CiJobInterface`, whose `project` and `pipeline` are interfaces: only `id` is asked of
 *   them, which both the interface and the older concrete types have.
 */

/** Statuses a job can leave on its own, as `CiJobStatus` names them (REST's live scopes, and `preparing`). */
export const LIVE_JOB_STATUSES = "[CREATED, WAITING_FOR_RESOURCE, PREPARING, PENDING, RUNNING]";

/** Pipelines of one kind read per project and sweep; more and the project is read by REST. */
export const PIPELINES_PER_KIND = 5;
/** Live jobs read per pipeline; more and the project is read by REST. */
export const JOBS_PER_PIPELINE = 50;
/** Projects per request in the group sweep; made smaller when GitLab finds the query too complex. */
export const GROUP_PAGE_SIZE = 100;
/** Projects asked by id per request. */
export const PATHS_PER_REQUEST = 50;
/** Live jobs per page of the instance listing (GitLab's page cap). */
export const INSTANCE_PAGE_SIZE = 100;

const LIVE_PIPELINES = `
fragment LivePipelines on PipelineConnection {
  pageInfo { hasNextPage }
  nodes {
    id
    jobs(statuses: ${LIVE_JOB_STATUSES}, first: ${JOBS_PER_PIPELINE}) {
      pageInfo { hasNextPage }
      nodes { id status tags queuedDuration startedAt runner { description } }
    }
  }
}`;

const SWEPT_PROJECT = `
fragment SweptProject on Project {
  id
  running: pipelines(scope: RUNNING, first: ${PIPELINES_PER_KIND}) { ...LivePipelines }
  pending: pipelines(scope: PENDING, first: ${PIPELINES_PER_KIND}) { ...LivePipelines }
  childRunning: pipelines(source: "parent_pipeline", scope: RUNNING, first: ${PIPELINES_PER_KIND}) { ...LivePipelines }
  childPending: pipelines(source: "parent_pipeline", scope: PENDING, first: ${PIPELINES_PER_KIND}) { ...LivePipelines }
  changed: pipelines(updatedAfter: $since, first: 1) { nodes { id updatedAt } }
  childChanged: pipelines(source: "parent_pipeline", updatedAfter: $since, first: 1) { nodes { id updatedAt } }
}`;

/** One page of a group's projects (subgroups included), each with its live jobs and whether it changed. */
export const GROUP_SWEEP_QUERY = `query GroupSweep($group: ID!, $first: Int!, $after: String, $since: Time!) {
  group(fullPath: $group) {
    projects(includeSubgroups: true, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { ...SweptProject }
    }
  }
}
${SWEPT_PROJECT}
${LIVE_PIPELINES}`;

/**
 * The same for projects by id, up to 50 a request (the other watched projects: `GITLAB_PROJECTS`).
 * `projects(ids:)` exists from GitLab 13.0; `fullPaths:` only from 16.6, and aliases of
 * `project(fullPath:)` would cost the whole project's complexity each (about 104), two a request.
 */
export const PROJECTS_SWEEP_QUERY = `query ProjectsSweep($ids: [ID!]!, $since: Time!) {
  projects(ids: $ids, first: ${PATHS_PER_REQUEST}) {
    nodes { ...SweptProject }
  }
}
${SWEPT_PROJECT}
${LIVE_PIPELINES}`;

/** One page of the instance's live jobs, newest first. */
export const INSTANCE_JOBS_QUERY = `query InstanceLiveJobs($after: String) {
  jobs(statuses: ${LIVE_JOB_STATUSES}, first: ${INSTANCE_PAGE_SIZE}, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id status tags queuedDuration startedAt runner { description } pipeline { id } project { id } }
  }
}`;

/**
 * Whether the token sees the instance's jobs: any job of any status. An administrator of an
 * instance that ever ran a job gets one; anyone else gets none.
 */
export const INSTANCE_PROBE_QUERY = `query InstanceProbe {
  jobs(first: 1) { nodes { id } }
}`;
