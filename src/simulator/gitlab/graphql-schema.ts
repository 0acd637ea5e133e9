/**
 * The subset of GitLab's GraphQL schema the simulator serves, with GitLab's type, field and
 * argument names (`app/graphql/types/`, `app/graphql/resolvers/`, `doc/api/graphql/reference/
 * _index.md`). Kept as SDL so a reader can diff it against GitLab's reference.
 *
 * Deliberately strict where GitLab is:
 * - `CiJob.pipeline` is a `PipelineInterface` (`types/ci/job_type.rb`): `status` and `jobs` need
 *   `... on Pipeline`.
 * - `Query.jobs` returns `CiJobInterfaceConnection` whose `project` is a `ProjectInterface` and
 *   `pipeline` a `PipelineInterface` (`types/ci/job_interface.rb`); the interface here has no
 *   `fullPath`, so a query must ask `... on Project { fullPath }`, which works on every version.
 * - There is no machine-readable failure reason: only `failureMessage`, a sentence.
 */
export const GITLAB_SDL = /* GraphQL */ `
"""ISO 8601 in whole seconds, e.g. 2026-06-01T09:00:00Z (types/time_type.rb)."""
scalar Time
"""Seconds, fractional (types/duration_type.rb)."""
scalar Duration
"""A Global ID of a job: gid://gitlab/Ci::Build/N."""
scalar JobID
"""A Global ID of a runner: gid://gitlab/Ci::Runner/N."""
scalar CiRunnerID

type Query {
  group(fullPath: ID!): Group
  project(fullPath: ID!): Project
  projects(
    fullPaths: [String!]
    ids: [ID!]
    membership: Boolean
    search: String
    sort: String
    first: Int
    after: String
  ): ProjectConnection
  jobs(statuses: [CiJobStatus!], first: Int, after: String): CiJobInterfaceConnection
  queryComplexity: QueryComplexity
}

type QueryComplexity {
  score: Int
  limit: Int
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type Group {
  id: ID!
  name: String!
  path: String!
  fullPath: ID!
  webUrl: String!
  projects(
    includeSubgroups: Boolean = false
    includeArchived: Boolean = true
    search: String
    sort: String
    first: Int
    after: String
  ): ProjectConnection!
}

interface ProjectInterface {
  id: ID
  name: String
  nameWithNamespace: String
  description: String
  webUrl: String
}

type Project implements ProjectInterface {
  id: ID!
  name: String!
  nameWithNamespace: String!
  description: String
  webUrl: String
  path: String!
  fullPath: ID!
  archived: Boolean
  visibility: String
  pipelines(
    status: PipelineStatusEnum
    scope: PipelineScopeEnum
    ref: String
    sha: String
    source: String
    updatedAfter: Time
    updatedBefore: Time
    username: String
    first: Int
    after: String
  ): PipelineConnection
  pipeline(iid: ID, id: ID): Pipeline
  jobs(statuses: [CiJobStatus!], first: Int, after: String): CiJobConnection
}

type ProjectConnection {
  count: Int!
  nodes: [Project]
  edges: [ProjectEdge]
  pageInfo: PageInfo!
}

type ProjectEdge {
  cursor: String!
  node: Project
}

interface PipelineInterface {
  id: ID
  iid: String
  path: String
  project: ProjectInterface
}

type Pipeline implements PipelineInterface {
  id: ID!
  iid: String!
  path: String
  project: Project
  status: PipelineStatusEnum!
  source: String
  ref: String
  sha: String
  child: Boolean!
  createdAt: Time!
  updatedAt: Time!
  startedAt: Time
  finishedAt: Time
  duration: Int
  queuedDuration: Duration
  jobs(statuses: [CiJobStatus!], retried: Boolean, first: Int, after: String): CiJobConnection
  downstream(first: Int, after: String): PipelineConnection
  upstream: Pipeline
}

type PipelineConnection {
  count: Int!
  nodes: [Pipeline]
  edges: [PipelineEdge]
  pageInfo: PageInfo!
}

type PipelineEdge {
  cursor: String!
  node: Pipeline
}

enum PipelineStatusEnum {
  CREATED
  WAITING_FOR_RESOURCE
  PREPARING
  WAITING_FOR_CALLBACK
  PENDING
  RUNNING
  FAILED
  SUCCESS
  CANCELING
  CANCELED
  SKIPPED
  MANUAL
  SCHEDULED
}

enum PipelineScopeEnum {
  RUNNING
  PENDING
  FINISHED
  BRANCHES
  TAGS
}

enum CiJobStatus {
  CREATED
  WAITING_FOR_RESOURCE
  PREPARING
  WAITING_FOR_CALLBACK
  PENDING
  RUNNING
  SUCCESS
  FAILED
  CANCELING
  CANCELED
  SKIPPED
  MANUAL
  SCHEDULED
}

enum CiJobKind {
  BUILD
  BRIDGE
}

type CiStage {
  name: String
}

type CiRunner {
  id: CiRunnerID!
  description: String
  runnerType: String
  tagList: [String!]
}

interface CiJobInterface {
  id: JobID
  name: String
  status: CiJobStatus
  kind: CiJobKind
  stage: CiStage
  createdAt: Time
  queuedAt: Time
  startedAt: Time
  finishedAt: Time
  duration: Int
  queuedDuration: Duration
  tags: [String]
  retried: Boolean
  allowFailure: Boolean
  refName: String
  failureMessage: String
  pipeline: PipelineInterface
  project: ProjectInterface
  runner: CiRunner
}

type CiJob implements CiJobInterface {
  id: JobID
  name: String
  status: CiJobStatus
  kind: CiJobKind!
  stage: CiStage
  createdAt: Time!
  queuedAt: Time
  startedAt: Time
  finishedAt: Time
  duration: Int
  queuedDuration: Duration
  tags: [String]
  retried: Boolean
  allowFailure: Boolean!
  refName: String
  failureMessage: String
  pipeline: PipelineInterface
  project: Project
  runner: CiRunner
}

type CiJobConnection {
  count: Int!
  nodes: [CiJob]
  edges: [CiJobEdge]
  pageInfo: PageInfo!
}

type CiJobEdge {
  cursor: String!
  node: CiJob
}

type CiJobInterfaceConnection {
  count: Int!
  nodes: [CiJobInterface]
  edges: [CiJobInterfaceEdge]
  pageInfo: PageInfo!
}

type CiJobInterfaceEdge {
  cursor: String!
  node: CiJobInterface
}
`;

/**
 * Fields backed by a resolver, whose complexity GitLab computes as
 * `(children + 1 + extra) × (1 + 0.01 × min(first, 100))` for connections
 * (`types/base_field.rb#field_resolver_complexity`, `resolvers/base_resolver.rb`). `extra` is what
 * the resolver adds: `NamespaceProjectsResolver` +10, `ProjectPipelinesResolver` +1 (it calls
 * Gitaly). Every other field costs 1 plus its children.
 */
export const RESOLVER_FIELDS: ReadonlyMap<string, { readonly extra: number; readonly connection: boolean }> = new Map([
  ["Query.group", { extra: 0, connection: false }],
  ["Query.project", { extra: 0, connection: false }],
  ["Query.projects", { extra: 0, connection: true }],
  ["Query.jobs", { extra: 0, connection: true }],
  ["Group.projects", { extra: 10, connection: true }],
  ["Project.pipelines", { extra: 1, connection: true }],
  ["Project.pipeline", { extra: 0, connection: false }],
  ["Project.jobs", { extra: 0, connection: true }],
  ["Pipeline.jobs", { extra: 0, connection: true }],
]);
