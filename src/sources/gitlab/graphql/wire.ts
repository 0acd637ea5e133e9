import { z } from "zod";
import { isJobStatus, tagsLabel, type JobObservation } from "../../../domain/job.js";
import { ignoreRejections, type Rejections } from "../../../lib/rejections.js";
import { JobFields, observe } from "../wire.js";

/**
 * The shapes of the sweep's answers. Connections GitLab could not resolve for one project come
 * as null (with an error beside the data): that project is then read by REST, the others hold.
 */
const pageInfo = z.object({ hasNextPage: z.boolean() });

export const graphqlJobSchema = z.object({
  id: z.string(),
  status: z.string(),
  tags: z.array(z.string()).nullish(),
  queuedDuration: z.number().nullish(),
  startedAt: z.string().nullish(),
  runner: z.object({ description: z.string().nullish() }).nullish(),
});
export type GraphqlJob = z.infer<typeof graphqlJobSchema>;

const livePipelines = z
  .object({
    pageInfo,
    nodes: z.array(
      z.object({
        id: z.string(),
        jobs: z.object({ pageInfo, nodes: z.array(graphqlJobSchema) }).nullable(),
      }),
    ),
  })
  .nullable();

const changedPipelines = z.object({ nodes: z.array(z.object({ id: z.string(), updatedAt: z.string() })) }).nullable();

export const sweptProjectSchema = z.object({
  id: z.string(),
  running: livePipelines,
  pending: livePipelines,
  childRunning: livePipelines,
  childPending: livePipelines,
  changed: changedPipelines,
  childChanged: changedPipelines,
});
export type SweptProjectNode = z.infer<typeof sweptProjectSchema>;

export const groupSweepSchema = z.object({
  group: z
    .object({
      projects: z.object({
        pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() }),
        nodes: z.array(sweptProjectSchema.nullable()),
      }),
    })
    .nullable(),
});

export const projectsSweepSchema = z.object({
  projects: z.object({ nodes: z.array(sweptProjectSchema.nullable()) }).nullable(),
});

export const instanceJobsSchema = z.object({
  jobs: z
    .object({
      pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() }),
      nodes: z.array(
        graphqlJobSchema
          .extend({
            pipeline: z.object({ id: z.string() }).nullish(),
            project: z.object({ id: z.string() }).nullish(),
          })
          .nullable(),
      ),
    })
    .nullable(),
});

export type InstanceJobs = z.infer<typeof instanceJobsSchema>;

export const instanceProbeSchema = z.object({
  jobs: z.object({ nodes: z.array(z.object({ id: z.string() }).nullable()) }).nullable(),
});

/**
 * The number at the end of a Global ID (`gid://gitlab/Ci::Build/42` → 42), or null for anything
 * else: an id is used only when it is a positive safe integer.
 */
export function idOfGlobalId(gid: string): number | null {
  const match = /^gid:\/\/gitlab\/[A-Za-z:]+\/(\d{1,16})$/.exec(gid);
  if (!match) return null;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/**
 * A live job as the sweep read it, as the same observation REST would give (GraphQL spells the
 * status in capitals). Null for an id or a status this exporter cannot use; implausible fields
 * are refused one by one, as from REST.
 */
export function observeGraphqlJob(
  job: GraphqlJob,
  projectId: number,
  pipelineId: number | null,
  receivedAtMs: number,
  rejections: Rejections = ignoreRejections,
): JobObservation | null {
  const id = idOfGlobalId(job.id);
  const status = job.status.toLowerCase();
  if (id === null || !isJobStatus(status)) {
    rejections.reject("gitlab_api", "schema", { endpoint: "/graphql", issue: "job id or status", id: job.id.slice(0, 60) });
    return null;
  }
  return observe(
    {
      id,
      projectId,
      status,
      tags: job.tags ? tagsLabel(job.tags) : null,
      startedAt: job.startedAt,
      finishedAt: null,
      pipelineId,
      queuedSeconds: job.queuedDuration,
      durationSeconds: null,
      failureReason: null,
      runner: job.runner ?? null,
    },
    new JobFields("gitlab_api", rejections, id, receivedAtMs),
    receivedAtMs,
  );
}
