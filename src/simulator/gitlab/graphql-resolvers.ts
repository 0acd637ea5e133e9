import { GraphQLError, type GraphQLFieldResolver } from "graphql";
import { isoSeconds, queuedSeconds, runSeconds } from "./durations.js";
import { connection, type ConnectionArgs } from "./graphql-connection.js";
import type { SimGroup, SimJob, SimJobStatus, SimPipeline, SimProject } from "./model.js";
import { isFinished } from "./model.js";
import type { GitLabWorld } from "./world.js";

/** Who asks: no token, a user's token, or an administrator's. */
export type Viewer = "anonymous" | "user" | "admin";

export interface GraphqlContext {
  readonly world: GitLabWorld;
  readonly viewer: Viewer;
  readonly now: number;
  readonly complexity: { readonly score: number; readonly limit: number };
  /** `Project.jobs` calls so far (`Gitlab::Graphql::Limit::FieldCallCount`, limit 1). */
  projectJobsCalls: number;
}

type Resolver<Source> = GraphQLFieldResolver<Source, GraphqlContext, Record<string, unknown>>;
type Resolvers = Record<string, Record<string, Resolver<never>>>;

/** `Project.pipelines` on GitLab may load many pipelines; the list helpers take GitLab's args. */
interface PipelineArgs extends ConnectionArgs {
  readonly status?: string | null;
  readonly scope?: string | null;
  readonly ref?: string | null;
  readonly sha?: string | null;
  readonly source?: string | null;
  readonly updatedAfter?: string | null;
  readonly updatedBefore?: string | null;
}

const gid = (model: string, id: number) => `gid://gitlab/${model}/${id}`;
const upper = (status: string) => status.toUpperCase();
const lowerStatuses = (statuses: unknown): Set<SimJobStatus> | undefined =>
  Array.isArray(statuses) && statuses.length > 0 ? new Set(statuses.map((s) => String(s).toLowerCase() as SimJobStatus)) : undefined;

/** What the viewer may read (`ProjectPolicy`): anonymous requests see public projects only. */
export function canRead(project: SimProject | undefined, viewer: Viewer): project is SimProject {
  if (!project) return false;
  if (viewer === "admin") return true;
  if (project.access !== "ok") return false;
  return viewer === "user" || project.visibility === "public";
}

function time(value: unknown, name: string): number | null {
  if (value === undefined || value === null) return null;
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new GraphQLError(`Argument '${name}' has an invalid value (${JSON.stringify(value)}). Expected type 'Time'.`);
  return ms;
}

/**
 * `Ci::PipelinesFinder` as `ResolvesPipelines` calls it: inclusive `updatedAfter`/`updatedBefore`,
 * and child pipelines only when `source: "parent_pipeline"` is asked (as the REST list).
 */
export function filterPipelines(pipelines: readonly SimPipeline[], args: PipelineArgs): SimPipeline[] {
  const after = time(args.updatedAfter, "updatedAfter");
  const before = time(args.updatedBefore, "updatedBefore");
  const status = args.status ? args.status.toLowerCase() : null;
  const scope = args.scope ? args.scope.toLowerCase() : null;
  return pipelines.filter(
    (p) =>
      (args.source === "parent_pipeline" || p.source !== "parent_pipeline") &&
      (!args.source || p.source === args.source) &&
      (after === null || p.updatedAt >= after) &&
      (before === null || p.updatedAt <= before) &&
      (status === null || p.status === status) &&
      (!args.ref || p.ref === args.ref) &&
      (!args.sha || p.sha === args.sha) &&
      (scope === null || scope === "branches" || (scope === "finished" ? isFinished(p.status) : scope !== "tags" && p.status === scope)),
  );
}

function groupProjects(group: SimGroup, args: Record<string, unknown>, ctx: GraphqlContext) {
  const includeArchived = args.includeArchived !== false;
  const projects = ctx.world
    .groupProjects(group, args.includeSubgroups === true)
    .filter((p) => canRead(p, ctx.viewer) && (includeArchived || !p.archived))
    .sort((a, b) => b.id - a.id);
  return connection(projects, args);
}

function queryProjects(args: Record<string, unknown>, ctx: GraphqlContext) {
  const fullPaths = Array.isArray(args.fullPaths) ? args.fullPaths.map(String) : undefined;
  // ProjectSearchArguments: `validates :full_paths, length: { maximum: 50 }`.
  if (fullPaths && fullPaths.length > 50) throw new GraphQLError("You cannot provide more than 50 fullPaths");
  const ids = Array.isArray(args.ids) ? args.ids.map((id) => parseGid(String(id), "Project")) : undefined;
  let projects = ctx.world.projects().filter((p) => canRead(p, ctx.viewer));
  if (fullPaths) projects = projects.filter((p) => fullPaths.includes(p.pathWithNamespace));
  if (ids) projects = projects.filter((p) => ids.includes(p.id));
  return connection([...projects].sort((a, b) => b.id - a.id), args);
}

function parseGid(value: string, model: string): number {
  const match = /^gid:\/\/gitlab\/([A-Za-z:]+)\/(\d+)$/.exec(value);
  if (!match) throw new GraphQLError(`${value} is not a valid GitLab ID.`);
  if (match[1] !== model) throw new GraphQLError(`${value} is not a valid ID for ${model}.`);
  return Number(match[2]);
}

/** `Query.jobs` (`Resolvers::Ci::AllJobsResolver`, `JobsFinder#all_jobs`): every job for an admin, none for anyone else. */
function instanceJobs(args: Record<string, unknown>, ctx: GraphqlContext) {
  if (ctx.viewer !== "admin") return connection([], args);
  const wanted = lowerStatuses(args.statuses);
  const jobs = ctx.world.jobs().filter((job) => !wanted || wanted.has(job.status));
  return connection([...jobs].sort((a, b) => b.id - a.id), args);
}

function projectJobs(project: SimProject, args: Record<string, unknown>, ctx: GraphqlContext) {
  // `Gitlab::Graphql::Limit::FieldCallCount, limit: 1` on `Project.jobs`.
  if (++ctx.projectJobsCalls > 1) throw new GraphQLError('"jobs" field can be requested only for 1 Project(s) at a time.');
  const wanted = lowerStatuses(args.statuses);
  return connection(ctx.world.projectJobs(project.id, wanted ? [...wanted] : undefined), args);
}

/** `Resolvers::Ci::JobsResolver`: `retried: true` only retried, `false` only the latest, absent both. */
function pipelineJobs(pipeline: SimPipeline, args: Record<string, unknown>, ctx: GraphqlContext) {
  const wanted = lowerStatuses(args.statuses);
  const jobs = ctx.world
    .pipelineJobs(pipeline.id)
    .filter((job) => (!wanted || wanted.has(job.status)) && (args.retried === undefined || args.retried === null || job.retried === args.retried))
    .sort((a, b) => b.id - a.id);
  return connection(jobs, args);
}

function projectPath(world: GitLabWorld, project: SimProject): string {
  return `${world.group(project.namespaceFullPath)?.fullPath.split("/").join(" / ") ?? project.namespaceFullPath} / ${project.name}`;
}

export const RESOLVERS: Resolvers = {
  Query: {
    group: (_s: unknown, args, ctx) => ctx.world.group(String(args.fullPath)) ?? null,
    project: (_s: unknown, args, ctx) => {
      const project = ctx.world.project(String(args.fullPath));
      return canRead(project, ctx.viewer) ? project : null;
    },
    projects: (_s: unknown, args, ctx) => queryProjects(args, ctx),
    jobs: (_s: unknown, args, ctx) => instanceJobs(args, ctx),
    queryComplexity: (_s: unknown, _args, ctx) => ctx.complexity,
  },
  Group: {
    id: (g: SimGroup) => gid("Group", g.id),
    webUrl: (g: SimGroup, _a, ctx) => `${ctx.world.baseUrl}/groups/${g.fullPath}`,
    projects: (g: SimGroup, args, ctx) => groupProjects(g, args, ctx),
  },
  Project: {
    id: (p: SimProject) => gid("Project", p.id),
    fullPath: (p: SimProject) => p.pathWithNamespace,
    nameWithNamespace: (p: SimProject, _a, ctx) => projectPath(ctx.world, p),
    description: () => null,
    visibility: (p: SimProject) => p.visibility,
    pipelines: (p: SimProject, args, ctx) => connection(filterPipelines(ctx.world.projectPipelines(p.id), args as PipelineArgs), args),
    pipeline: (p: SimProject, args, ctx) =>
      ctx.world.projectPipelines(p.id).find((pl) => (args.iid != null && String(pl.iid) === String(args.iid)) || (args.id != null && gid("Ci::Pipeline", pl.id) === String(args.id))) ?? null,
    jobs: (p: SimProject, args, ctx) => projectJobs(p, args, ctx),
  },
  Pipeline: {
    id: (p: SimPipeline) => gid("Ci::Pipeline", p.id),
    iid: (p: SimPipeline) => String(p.iid),
    path: (p: SimPipeline, _a, ctx) => `/${ctx.world.project(p.projectId)?.pathWithNamespace ?? ""}/-/pipelines/${p.id}`,
    project: (p: SimPipeline, _a, ctx) => ctx.world.project(p.projectId) ?? null,
    status: (p: SimPipeline) => upper(p.status),
    child: (p: SimPipeline) => p.parentPipelineId !== null,
    createdAt: (p: SimPipeline) => isoSeconds(p.createdAt),
    updatedAt: (p: SimPipeline) => isoSeconds(p.updatedAt),
    startedAt: (p: SimPipeline) => isoSeconds(p.startedAt),
    finishedAt: (p: SimPipeline) => isoSeconds(p.finishedAt),
    duration: (p: SimPipeline) => (p.startedAt !== null && p.finishedAt !== null ? Math.trunc((p.finishedAt - p.startedAt) / 1000) : null),
    queuedDuration: (p: SimPipeline) => (p.startedAt !== null ? (p.startedAt - p.createdAt) / 1000 : null),
    jobs: (p: SimPipeline, args, ctx) => pipelineJobs(p, args, ctx),
    downstream: (p: SimPipeline, args, ctx) => connection(ctx.world.downstreamPipelines(p.id), args, "asc"),
    upstream: (p: SimPipeline, _a, ctx) => (p.parentPipelineId === null ? null : (ctx.world.pipeline(p.parentPipelineId) ?? null)),
  },
  CiJob: {
    id: (j: SimJob) => gid("Ci::Build", j.id),
    status: (j: SimJob) => upper(j.status),
    kind: () => "BUILD",
    stage: (j: SimJob) => ({ name: j.stage }),
    createdAt: (j: SimJob) => isoSeconds(j.createdAt),
    queuedAt: (j: SimJob) => isoSeconds(j.queuedAt),
    startedAt: (j: SimJob) => isoSeconds(j.startedAt),
    finishedAt: (j: SimJob) => isoSeconds(j.finishedAt),
    // `Int` in GraphQL: graphql-ruby truncates the float seconds.
    duration: (j: SimJob, _a, ctx) => {
      const seconds = runSeconds(j, ctx.now);
      return seconds === null ? null : Math.trunc(seconds);
    },
    queuedDuration: (j: SimJob, _a, ctx) => queuedSeconds(j, ctx.now),
    tags: (j: SimJob) => [...j.tags],
    refName: (j: SimJob) => j.ref,
    // `Ci::BuildPresenter#failure_message`: a sentence, not the enum; none for script failures.
    failureMessage: (j: SimJob) => (j.status === "failed" && j.failureReason && j.failureReason !== "script_failure" ? `The job failed: ${j.failureReason.replaceAll("_", " ")}.` : null),
    pipeline: (j: SimJob, _a, ctx) => ctx.world.pipeline(j.pipelineId) ?? null,
    project: (j: SimJob, _a, ctx) => ctx.world.project(j.projectId) ?? null,
    runner: (j: SimJob) => (j.runner ? { id: gid("Ci::Runner", j.runner.id), description: j.runner.description, runnerType: "INSTANCE_TYPE", tagList: [...(j.runner.tags ?? [])] } : null),
  },
};
